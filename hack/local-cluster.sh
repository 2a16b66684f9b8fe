#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for development and tests:
# etcd, kube-apiserver (RBAC and the default admission plugins on),
# kube-controller-manager, kube-scheduler, and kwok simulating nodes, pods
# and volumes. Binaries come from hack/build-tools.sh (built once, cached).
#
#   hack/local-cluster.sh up           start (a no-op when already up)
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

kubectl() { "$WARREN_BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

pid_of() {
  local file="$DIR/run/$1.pid"
  [[ -f "$file" ]] || return 1
  local pid
  pid="$(cat "$file")"
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

make_pki() {
  [[ -f "$PKI/admin.crt" ]] && return 0
  log "creating certificates in $PKI"
  mkdir -p "$PKI"
  (
    cd "$PKI"
    umask 077
    openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
    openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=warren-local-ca" -out ca.crt 2>/dev/null
    sign() { # name subject extensions
      openssl ecparam -name prime256v1 -genkey -noout -out "$1.key" 2>/dev/null
      openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 3650 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    sign apiserver "/CN=kube-apiserver" \
      "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth"
    sign admin "/O=system:masters/CN=warren-admin" "extendedKeyUsage=clientAuth"
    openssl ecparam -name prime256v1 -genkey -noout -out sa.key 2>/dev/null
    openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null
  )
}

write_kubeconfig() {
  local b64="base64 -w0"
  umask 077
  cat >"$KUBECONFIG_PATH" <<KC
apiVersion: v1
kind: Config
current-context: warren-local
clusters:
- name: warren-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $($b64 <"$PKI/ca.crt")
users:
- name: warren-admin
  user:
    client-certificate-data: $($b64 <"$PKI/admin.crt")
    client-key-data: $($b64 <"$PKI/admin.key")
contexts:
- name: warren-local
  context:
    cluster: warren-local
    user: warren-admin
KC
}

# launch NAME ARGS...: runs a component in its own session, logging to a file.
launch() {
  local name="$1"
  shift
  mkdir -p "$DIR/run" "$DIR/logs"
  setsid "$@" >>"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/run/$name.pid"
}

# wait_for WHAT SECONDS COMMAND...: polls until COMMAND succeeds.
wait_for() {
  local what="$1" seconds="$2"
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "$what did not become ready in ${seconds}s; last log lines:"
      tail -n 20 "$DIR/logs/${what}.log" >&2 || true
      return 1
    fi
    sleep 0.2
  done
}

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
    launch kube-apiserver "$WARREN_BIN/kube-apiserver" \
      --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
      --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
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

stop_component() {
  local pid
  pid="$(pid_of "$1")" || { rm -f "$DIR/run/$1.pid"; return 0; }
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  rm -f "$DIR/run/$1.pid"
}

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
  "$WARREN_ROOT/hack/build-tools.sh"
  local all_running=1 c
  for c in "${COMPONENTS[@]}"; do pid_of "$c" >/dev/null || all_running=0; done
  if ((all_running)) && [[ -f "$KUBECONFIG_PATH" ]] && apiserver_ready; then
    log "local cluster already up (kubeconfig: $KUBECONFIG_PATH)"
    return 0
  fi
  local start=$SECONDS
  make_pki
  write_kubeconfig
  for c in "${COMPONENTS[@]}"; do start_component "$c"; done
  create_nodes
  wait_for kube-controller-manager 60 cluster_ready
  log "local cluster up in $((SECONDS - start)) s: Kubernetes $("$WARREN_BIN/kube-apiserver" --version | cut -d' ' -f2), $KWOK_NODES kwok nodes"
  log "kubeconfig: $KUBECONFIG_PATH"
}

down() {
  local i
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
up) up ;;
down) down ;;
status) status ;;
kubeconfig) echo "$KUBECONFIG_PATH" ;;
stop) stop_component "${2:?component}" ;;
start)
  start_component "${2:?component}"
  [[ "$2" != kube-apiserver ]] || wait_for kube-apiserver 60 apiserver_ready
  ;;
compact) compact ;;
*) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
