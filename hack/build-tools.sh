#!/usr/bin/env bash
# Builds, once, the binaries the local control plane needs and caches them in
# $WARREN_CACHE/bin (default ~/.cache/warren/bin): kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, the kubelet, kube-proxy and
# etcd from the pinned Kubernetes release (hack/tools/k8s), kwok and kwokctl,
# helm, versitygw (the S3 server the offload tests run against) and CoreDNS
# (the real node's cluster DNS). Everything
# comes from the Go module proxy; a rebuild happens only when a pin changes.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

command -v go >/dev/null || die "go is not installed (Go >= 1.24 is needed to build the control plane)"
mkdir -p "$WARREN_BIN"
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

# stamp NAME VALUE: true when NAME was already built for VALUE.
built() { [[ -f "$WARREN_BIN/.$1.stamp" && "$(cat "$WARREN_BIN/.$1.stamp")" == "$2" ]]; }
mark() { printf '%s' "$2" >"$WARREN_BIN/.$1.stamp"; }

build_kubernetes() {
  local pin
  pin="$KUBE_VERSION $(sha256sum "$WARREN_ROOT/hack/tools/k8s/go.sum" | cut -c1-16)"
  built kubernetes "$pin" && return 0
  log "building Kubernetes $KUBE_VERSION control plane and etcd (cold: tens of minutes on 2 cores)"
  local minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  local ld="-s -w"
  ld+=" -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION"
  ld+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  ld+=" -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
  ld+=" -X k8s.io/component-base/version.gitTreeState=clean"
  (cd "$WARREN_ROOT/hack/tools/k8s" &&
    CGO_ENABLED=0 go build -trimpath -tags selinux,notest -ldflags "$ld" -o "$WARREN_BIN/" \
      k8s.io/kubernetes/cmd/kube-apiserver \
      k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler \
      k8s.io/kubernetes/cmd/kubectl \
      k8s.io/kubernetes/cmd/kubelet \
      k8s.io/kubernetes/cmd/kube-proxy \
      ./cmd/etcd)
  mark kubernetes "$pin"
}

build_kwok() {
  built kwok "$KWOK_VERSION" && [[ -f "$WARREN_BIN/kwok-stages.yaml" ]] && return 0
  log "building kwok and kwokctl $KWOK_VERSION"
  GOBIN="$WARREN_BIN" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
  # kwok plays no stages unless given some: assemble the stock ones from the
  # pinned module (node lifecycle with lease heartbeats, fast pods, chaos
  # stages for failure tests, and simulated volume provisioning).
  local dir stages="$WARREN_BIN/kwok-stages.yaml"
  dir="$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  [[ -d "$dir/kustomize/stage" ]] || die "kwok module source not found in the module cache"
  : >"$stages"
  local f
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    node/chaos/node-not-ready.yaml pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml \
    pod/fast/pod-delete.yaml pod/chaos/pod-container-running-failed.yaml \
    volume/fast/pv-bind.yaml volume/fast/pv-delete.yaml volume/fast/pvc-provision.yaml \
    volume/fast/pvc-delete.yaml; do
    { printf -- '---\n'; cat "$dir/kustomize/stage/$f"; } >>"$stages"
  done
  cp "$dir/kustomize/stage/volume/fast/storage-class.yaml" "$WARREN_BIN/kwok-storage-class.yaml"
  chmod u+w "$stages" "$WARREN_BIN/kwok-storage-class.yaml"
  mark kwok "$KWOK_VERSION"
}

build_helm() {
  built helm "$HELM_VERSION" && return 0
  log "building helm $HELM_VERSION"
  GOBIN="$WARREN_BIN" CGO_ENABLED=0 go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mark helm "$HELM_VERSION"
}

# versitygw (Apache-2.0): an S3 server on a local directory, one process,
# ready in a fraction of a second; the offload tests start it on loopback.
build_versitygw() {
  built versitygw "$VERSITYGW_VERSION" && return 0
  log "building versitygw $VERSITYGW_VERSION (cold: about 5 minutes on 2 cores)"
  GOBIN="$WARREN_BIN" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" \
    "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  mark versitygw "$VERSITYGW_VERSION"
}

# CoreDNS (Apache-2.0): cluster DNS for the real node's pods (hack/real-node.sh).
build_coredns() {
  built coredns "$COREDNS_VERSION" && return 0
  log "building CoreDNS $COREDNS_VERSION"
  GOBIN="$WARREN_BIN" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION"
  mark coredns "$COREDNS_VERSION"
}

start=$(date +%s)
build_kubernetes
build_kwok
build_helm
build_versitygw
build_coredns
log "tools ready in $WARREN_BIN ($(($(date +%s) - start)) s)"
