#!/usr/bin/env bash
# Runs the benchmarks (figures are printed, never asserted): the in-process
# ones, then the runtime, BrokerCluster and reroute ones on the local control
# plane, which this script starts (and leaves running) with warren's CRDs
# installed. Expects a build (make build).
#
# hack/bench.sh --peer [N] [IDLE_SECONDS] [ROUNDS] runs only the side-by-side
# comparison with rabbitmq/cluster-operator v2.13.0 (hack/build-peer.sh builds
# it): N clusters each (default 100), A/B/A/B, one table (hack/tools/bench_peer.py).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$WARREN_ROOT"
BENCH="${WARREN_BUILD_DIR:-build}/tests/bench"

if [[ "${1:-}" == "--peer" ]]; then
  hack/build-peer.sh
  hack/local-cluster.sh up
  kubeconfig="$(hack/local-cluster.sh kubeconfig)"
  "$WARREN_BIN/kubectl" --kubeconfig "$kubeconfig" apply --server-side --force-conflicts \
    --field-manager warren-install -f crds/ >/dev/null
  exec python3 hack/tools/bench_peer.py --kubectl "$WARREN_BIN/kubectl" --kubeconfig "$kubeconfig" \
    --warren "${WARREN_BUILD_DIR:-build}/operator/warren-operator" \
    --peer "$WARREN_BIN/cluster-operator-v2.13.0" --peer-crds "$WARREN_BIN/cluster-operator-v2.13.0.crds" \
    --clusters "${2:-100}" --idle "${3:-120}" --rounds "${4:-2}"
fi

"$BENCH/warren_bench"
# The offload pipeline on loopback servers it starts itself (needs root for PostgreSQL's initdb user).
"$BENCH/warren_offload_bench"
hack/local-cluster.sh up
export WARREN_TEST_KUBECONFIG="$(hack/local-cluster.sh kubeconfig)"
"$WARREN_BIN/kubectl" --kubeconfig "$WARREN_TEST_KUBECONFIG" apply --server-side \
  --field-manager warren-install -f crds/ >/dev/null
"$WARREN_BIN/kubectl" --kubeconfig "$WARREN_TEST_KUBECONFIG" wait --for condition=Established \
  --timeout 60s -f crds/ >/dev/null
"$BENCH/warren_runtime_bench"
"$BENCH/warren_brokercluster_bench" 100 300
"$BENCH/warren_reroute_bench"
