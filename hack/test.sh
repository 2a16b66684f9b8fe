#!/usr/bin/env bash
# The test command: installs what is missing, builds warren and the local
# control plane (cached after the first run), starts the control plane if it
# is not up, and runs every test through ctest: unit tests, integration tests
# against the real kube-apiserver, and data-plane tests with real RabbitMQ. Fails when a test fails or when no
# test ran. A cluster this script started is stopped again at the end unless
# WARREN_KEEP_CLUSTER=1.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$WARREN_ROOT"

started=$(date +%s)
hack/install-deps.sh
[[ -x /usr/local/go/bin/go ]] && export PATH="/usr/local/go/bin:$PATH"
hack/build-tools.sh
hack/build.sh
# The data-plane tests run RabbitMQ 4.0.5 from a Debian trixie root filesystem.
WARREN_RABBITMQ_ROOTFS="$(hack/build-rabbitmq-rootfs.sh)"
export WARREN_RABBITMQ_ROOTFS
# The fuzz campaign (ctest label "fuzz") runs an ASan+UBSan build of the operator.
ASAN_BUILD_DIR="${WARREN_ASAN_BUILD_DIR:-$WARREN_ROOT/build-asan}"
if [[ ! -f "$ASAN_BUILD_DIR/build.ninja" ]]; then
  cmake -S "$WARREN_ROOT" -B "$ASAN_BUILD_DIR" -G Ninja -DWARREN_SANITIZE=ON -DWARREN_BUILD_TESTS=OFF \
    -DWARREN_BUILD_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
fi
cmake --build "$ASAN_BUILD_DIR" --target warren-operator
export WARREN_ASAN_OPERATOR="$ASAN_BUILD_DIR/operator/warren-operator"

started_cluster=0
if ! hack/local-cluster.sh status >/dev/null 2>&1; then
  hack/local-cluster.sh up
  started_cluster=1
fi
cleanup() {
  if ((started_cluster)) && [[ "${WARREN_KEEP_CLUSTER:-0}" != 1 ]]; then
    hack/local-cluster.sh down || true
  fi
}
trap cleanup EXIT

export WARREN_TEST_KUBECONFIG="$(hack/local-cluster.sh kubeconfig)"
export WARREN_TEST_ETCD_URL="http://127.0.0.1:${WARREN_ETCD_PORT:-12379}"
export WARREN_ROOT
export WARREN_KUBECTL="$WARREN_BIN/kubectl"
export WARREN_BIN

# --no-tests=error turns "no test ran" into a failure.
ctest --test-dir "${WARREN_BUILD_DIR:-build}" --output-on-failure --no-tests=error \
  ${WARREN_CTEST_ARGS:-} "$@"
log "tests finished in $(($(date +%s) - started)) s"
