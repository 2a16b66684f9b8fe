#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for development and tests:
# etcd, kube-apiserver (RBAC and the default admission plugins on),
# kube-controller-manager, kube-scheduler, and kwok simulating nodes, pods
# and volumes. Binaries come from hack/build-tools.sh (built once, cached).
#
#   hack/local-cluster.sh up           start (a no-op when already up)
#   hack/local-cluster.sh up --real-node   also a real node: kubelet, containerd,
#                                      runc, CNI, kube-proxy, CoreDNS (hack/real-node.sh;
#                                      or WARREN_REAL_NODE=1)
#   hack/local-cluster.sh down         stop everything and delete the data
#   hack/local-cluster.sh status       exit 0 when the cluster answers
#   hack/local-cluster.sh kubeconfig   print the admin kubeconfig's path
#   hack/local-cluster.sh stop NAME    stop one component (tests: outages)
#   hack/local-cluster.sh start NAME   start one component again
#   hack/local-cluster.sh compact      compact etcd up to its current revision
#
# Ports (override by environment): WARREN_APISERVER_PORT (16443),
# WARREN_ETCD_PORT (12379), WARREN_ETCD_PEER_PORT (12380).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

APISERVER_PORT="${WARREN_APISERVER_PORT:-16443}"
ETCD_PORT="${WARREN_ETCD_PORT:-12379}"
ETCD_PEER_PORT="${WARREN_ETCD_PEER_PORT:-12380}"
KWOK_NODES="${WARREN_KWOK_NODES:-3}"
DIR="$WARREN_CLUSTER_DIR"
PKI="$DIR/pki"
KUBECONFIG_PATH="$DIR/kubeconfig"
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
RUN_PIDS="$DIR/run"
RUN_LOGS="$DIR/logs"
# Present while the control plane serves a real node (hack/real-node.sh).
REAL_NODE_MARK="$RUN_PIDS/real-node"
source "$WARREN_ROOT/hack/lib/processes.sh"
source "$WARREN_ROOT/hack/lib/pki.sh"

kubectl() { "$WARREN_BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

APISERVER_SANS="subjectAltName=IP:127.0.0.1,IP:10.96.0.1,IP:$REAL_NODE_GATEWAY,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth"

make_pki() {
  if [[ ! -f "$PKI/admin.crt" ]]; then
    log "creating certificates in $PKI"
    mkdir -p "$PKI"
    (
      cd "$PKI"
      umask 077
      openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
      openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=warren-local-ca" -out ca.crt 2>/dev/null
      openssl ecparam -name prime256v1 -genkey -noout -out sa.key 2>/dev/null
      openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null
    )
    sign_cert "$PKI" admin "/O=system:masters/CN=warren-admin" "extendedKeyUsage=clientAuth"
  fi
  # Pods of the real node reach the API server at the node bridge's address: it is in the certificate
  # (re-signed when a certificate from before lacks it).
  if ! grep -q "$REAL_NODE_GATEWAY" <<<"$(openssl x509 -in "$PKI/apiserver.crt" -noout -ext subjectAltName 2>/dev/null)"; then
    sign_cert "$PKI" apiserver "/CN=kube-apiserver" "$APISERVER_SANS"
  fi
}

write_kubeconfig() { client_kubeconfig "$KUBECONFIG_PATH" "https://127.0.0.1:$APISERVER_PORT" "$PKI" admin; }

apiserver_ready() {
  curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://127.0.0.1:$APISERVER_PORT/readyz" >/dev/null
}

start_component() {
  pid_of "$1" >/dev/null && return 0
  case "$1" in
  etcd)
    launch etcd "$WARREN_BIN/etcd" --name warren-local --data-dir "$DIR/etcd" \
      --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
      --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-cluster "warren-local=http://127.0.0.1:$ETCD_PEER_PORT" \
      --unsafe-no-fsync --quota-backend-bytes 4294967296 --log-level warn
    wait_for etcd 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health"
    ;;
  kube-apiserver)
    # With a real node, its pods reach the API server through the `kubernetes` Service, whose endpoint is the
    # advertised address: the node bridge's. Without one, loopback only.
    local address=(--bind-address 127.0.0.1 --advertise-address 127.0.0.1)
    [[ -f "$REAL_NODE_MARK" ]] &&
      address=(--bind-address 0.0.0.0 --advertise-address "$REAL_NODE_GATEWAY" --kubelet-preferred-address-types InternalIP)
    launch kube-apiserver "$WARREN_BIN/kube-apiserver" \
      --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
      "${address[@]}" --secure-port "$APISERVER_PORT" \
      --kubelet-client-certificate "$PKI/admin.crt" --kubelet-client-key "$PKI/admin.key" \
      --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
      --client-ca-file "$PKI/ca.crt" \
      --service-account-issuer https://kubernetes.default.svc.cluster.local \
      --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
      --service-cluster-ip-range 10.96.0.0/16 \
      --authorization-mode Node,RBAC --allow-privileged=true \
      --enable-priority-and-fairness=true --profiling=false --v=1
    wait_for kube-apiserver 60 apiserver_ready
    ;;
  kube-controller-manager)
    launch kube-controller-manager "$WARREN_BIN/kube-controller-manager" \
      --kubeconfig "$KUBECONFIG_PATH" --authentication-kubeconfig "$KUBECONFIG_PATH" \
      --authorization-kubeconfig "$KUBECONFIG_PATH" \
      --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
      --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
      --use-service-account-credentials=true --leader-elect=false \
      --bind-address 127.0.0.1 --secure-port 0 --v=1
    ;;
  kube-scheduler)
    launch kube-scheduler "$WARREN_BIN/kube-scheduler" \
      --kubeconfig "$KUBECONFIG_PATH" --authentication-kubeconfig "$KUBECONFIG_PATH" \
      --authorization-kubeconfig "$KUBECONFIG_PATH" \
      --leader-elect=false --bind-address 127.0.0.1 --secure-port 0 --v=1
    ;;
  kwok)
    launch kwok "$WARREN_BIN/kwok" --kubeconfig "$KUBECONFIG_PATH" \
      --config "$WARREN_BIN/kwok-stages.yaml" \
      --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
      --node-lease-duration-seconds 40 --cidr 10.244.0.1/16 --node-ip 10.0.0.1 \
      --server-address 127.0.0.1:0
    ;;
  *) die "unknown component $1 (one of: ${COMPONENTS[*]})" ;;
  esac
}

stop_component() { stop_process "$1"; }

create_nodes() {
  local i manifest=""
  for ((i = 0; i < KWOK_NODES; i++)); do
    manifest+="---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: \"0\"
  labels:
    type: kwok
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: $([[ $((i % 2)) == 0 ]] && echo amd64 || echo arm64)
    topology.kubernetes.io/zone: zone-$i
status:
  allocatable: {cpu: \"512\", memory: 4Ti, pods: \"500\"}
  capacity: {cpu: \"512\", memory: 4Ti, pods: \"500\"}
"
  done
  printf '%s' "$manifest" | kubectl apply -f - >/dev/null
  kubectl apply -f "$WARREN_BIN/kwok-storage-class.yaml" >/dev/null
}

cluster_ready() {
  apiserver_ready &&
    kubectl get serviceaccount default -n default >/dev/null 2>&1 &&
    [[ "$(kubectl get nodes -l type=kwok -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null | grep -c True)" -ge "$KWOK_NODES" ]]
}

up() {
  local real_node=0
  [[ "${1:-}" == --real-node || "${WARREN_REAL_NODE:-0}" == 1 ]] && real_node=1
  "$WARREN_ROOT/hack/build-tools.sh"
  local all_running=1 c
  for c in "${COMPONENTS[@]}"; do pid_of "$c" >/dev/null || all_running=0; done
  if ((all_running)) && [[ -f "$KUBECONFIG_PATH" ]] && apiserver_ready; then
    if ((real_node)) && [[ ! -f "$REAL_NODE_MARK" ]]; then
      log "restarting the API server for the real node"
      touch "$REAL_NODE_MARK"
      stop_component kube-apiserver
      start_component kube-apiserver
    fi
    log "local cluster already up (kubeconfig: $KUBECONFIG_PATH)"
  else
    local start=$SECONDS
    make_pki
    write_kubeconfig
    mkdir -p "$RUN_PIDS"
    if ((real_node)); then touch "$REAL_NODE_MARK"; fi
    for c in "${COMPONENTS[@]}"; do start_component "$c"; done
    create_nodes
    wait_for kube-controller-manager 60 cluster_ready
    log "local cluster up in $((SECONDS - start)) s: Kubernetes $("$WARREN_BIN/kube-apiserver" --version | cut -d' ' -f2), $KWOK_NODES kwok nodes"
    log "kubeconfig: $KUBECONFIG_PATH"
  fi
  if ((real_node)); then "$WARREN_ROOT/hack/real-node.sh" up; fi
}

down() {
  local i
  # The real node first: its pods are stopped through the API server.
  "$WARREN_ROOT/hack/real-node.sh" down
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop_component "${COMPONENTS[$i]}"; done
  rm -rf "$DIR/etcd" "$DIR/run"
  log "local cluster down"
}

status() {
  local c ok=0
  for c in "${COMPONENTS[@]}"; do
    if pid_of "$c" >/dev/null; then echo "$c: running (pid $(pid_of "$c"))"; else echo "$c: stopped"; ok=1; fi
  done
  if [[ -f "$KUBECONFIG_PATH" ]] && apiserver_ready; then echo "apiserver: ready"; else echo "apiserver: not ready"; ok=1; fi
  return $ok
}

compact() {
  local rev
  rev="$(curl -sf -X POST "http://127.0.0.1:$ETCD_PORT/v3/kv/range" -d '{"key":"AA=="}' |
    sed -n 's/.*"revision":"\([0-9]*\)".*/\1/p')"
  [[ -n "$rev" ]] || die "cannot read the etcd revision"
  curl -sf -X POST "http://127.0.0.1:$ETCD_PORT/v3/kv/compaction" -d "{\"revision\":\"$rev\",\"physical\":true}" >/dev/null
  echo "$rev"
}

case "${1:-}" in
up) up "${2:-}" ;;
down) down ;;
status) status ;;
kubeconfig) echo "$KUBECONFIG_PATH" ;;
stop) stop_component "${2:?component}" ;;
start)
  start_component "${2:?component}"
  [[ "$2" != kube-apiserver ]] || wait_for kube-apiserver 60 apiserver_ready
  ;;
compact) compact ;;
*) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
