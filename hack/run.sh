#!/usr/bin/env bash
# Runs warren. With no cluster configured (no $KUBECONFIG and no
# ~/.kube/config) it brings up the local control plane, installs the Helm
# chart there (CRDs, ServiceAccount, RBAC; the chart's Deployment is scaled to
# zero because no image is published) and the seed 000 example, and runs the
# operator binary in the foreground authenticated as the chart's
# ServiceAccount. With a cluster configured it installs the CRDs and runs the
# operator with your credentials. Extra arguments go to warren-operator.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$WARREN_ROOT"

hack/install-deps.sh
[[ -x /usr/local/go/bin/go ]] && export PATH="/usr/local/go/bin:$PATH"
hack/build.sh
OPERATOR="${WARREN_BUILD_DIR:-build}/operator/warren-operator"

if [[ -n "${KUBECONFIG:-}" || -f "$HOME/.kube/config" ]]; then
  kubectl_bin="$(command -v kubectl || echo "$WARREN_BIN/kubectl")"
  log "installing warren CRDs"
  "$kubectl_bin" apply --server-side --field-manager warren-install -f crds/ >/dev/null
  exec "$OPERATOR" "$@"
fi

log "no cluster configured: using the local control plane"
hack/local-cluster.sh up
export KUBECONFIG="$(hack/local-cluster.sh kubeconfig)"
K() { "$WARREN_BIN/kubectl" "$@"; }
"$WARREN_BIN/helm" upgrade --install warren charts/warren-operator -n warren-system --create-namespace \
  --set replicas=0 >/dev/null
K apply -f examples/seed-000-counting/broker-cluster.yaml -f examples/seed-000-counting/counting-service.yaml >/dev/null
TOKEN="$(K create token warren-operator -n warren-system --duration=24h)"
RUN_DIR="$WARREN_CLUSTER_DIR/run-operator"
mkdir -p "$RUN_DIR"
umask 077
cat >"$RUN_DIR/kubeconfig" <<KC
apiVersion: v1
kind: Config
current-context: warren-operator
clusters: [{name: local, cluster: {server: "$(K config view --raw -o jsonpath='{.clusters[0].cluster.server}')", certificate-authority-data: "$(K config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')"}}]
users: [{name: warren-operator, user: {token: "$TOKEN"}}]
contexts: [{name: warren-operator, context: {cluster: local, user: warren-operator}}]
KC
log "warren is starting; in another terminal: export KUBECONFIG=$KUBECONFIG; $WARREN_BIN/kubectl get bc,bb,csvc -A"
exec "$OPERATOR" --kubeconfig "$RUN_DIR/kubeconfig" --leader-elect --leader-election-namespace warren-system "$@"
