#!/usr/bin/env bash
# Runs warren's operator. With no cluster configured (no $KUBECONFIG and no
# ~/.kube/config) it brings up the local control plane first and uses it.
# Extra arguments go to warren-operator.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$WARREN_ROOT"

hack/install-deps.sh
[[ -x /usr/local/go/bin/go ]] && export PATH="/usr/local/go/bin:$PATH"
hack/build.sh

if [[ -z "${KUBECONFIG:-}" && ! -f "$HOME/.kube/config" ]]; then
  log "no cluster configured: using the local control plane"
  hack/local-cluster.sh up
  export KUBECONFIG="$(hack/local-cluster.sh kubeconfig)"
fi
if compgen -G "crds/*.yaml" >/dev/null; then
  kubectl_bin="$WARREN_BIN/kubectl"
  [[ -x "$kubectl_bin" ]] || kubectl_bin=kubectl
  log "installing warren CRDs"
  "$kubectl_bin" apply --server-side --field-manager warren-install -f crds/ >/dev/null
fi
exec "${WARREN_BUILD_DIR:-build}/operator/warren-operator" "$@"
