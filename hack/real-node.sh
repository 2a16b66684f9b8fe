#!/usr/bin/env bash
# A real node next to the kwok nodes of the local control plane: containerd
# with runc, a CNI bridge, the kubelet, kube-proxy and CoreDNS (a pod), so pods run
# real processes. Called by `hack/local-cluster.sh up --real-node` (which
# first makes the API server reachable from pods) and by `down`.
#
#   hack/real-node.sh up       start the node (a no-op when it is up)
#   hack/real-node.sh down     stop it and restore the host (safe when it is not up)
#   hack/real-node.sh status   exit 0 when the node is Ready
#   hack/real-node.sh import ARCHIVE   import a docker-archive into the node's images
#   hack/real-node.sh kill CONTAINER   SIGKILL a container's process (tests: a crash)
#
# The node is labelled warren.dev/real-node=true (kwok's nodes: type=kwok);
# the scheduler may place any pod there, so a test that needs real processes
# cordons the kwok nodes or selects this label. Volumes: the StorageClass
# real-node-local with 6 local PersistentVolumes of 2Gi on the node's disk
# (WARREN_REAL_NODE_VOLUMES). Its images (pause, RabbitMQ 4.0.5, CoreDNS, warren's)
# are built here by hack/build-node-images.sh and imported; nothing is pulled.
# Pods get addresses from $REAL_NODE_SUBNET on the bridge $REAL_NODE_BRIDGE,
# and forwarding rules keep their traffic on that bridge. CoreDNS runs as a
# pod (Deployment kube-system/coredns from the image localhost/coredns:warren,
# in-cluster config, its own ServiceAccount) behind the Service kube-dns at
# $CLUSTER_DNS, the kubelet's clusterDNS. `down` leaves
# no process, mount, network namespace, bridge, iptables rule or changed
# sysctl behind. The README's "Real pods" section says what differs from a
# node of a production cluster.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

NODE_NAME="${WARREN_REAL_NODE_NAME:-warren-real-node}"
DIR="$WARREN_CLUSTER_DIR"
NODE_DIR="$DIR/real-node"
PKI="$DIR/pki"
KUBECONFIG_PATH="$DIR/kubeconfig"
APISERVER="https://127.0.0.1:${WARREN_APISERVER_PORT:-16443}"
SOCKET="$NODE_DIR/containerd/containerd.sock"
KUBELET_PORT=20250
# The cluster DNS Service (kube-dns) in the API server's service range 10.96.0.0/16.
CLUSTER_DNS=10.96.0.10
COREDNS_IMAGE=localhost/coredns:warren
# What the host looked like before the node: restored by `down`.
HOST_STATE="$DIR/real-node.host-state"
# Sysctls the kubelet, the bridge plugin and kube-proxy change.
SYSCTLS=(vm.overcommit_memory kernel.panic kernel.panic_on_oops net.ipv4.ip_forward net.ipv4.conf.all.route_localnet)
# Host paths the kubelet and containerd use whatever they are told.
FIXED_PATHS=(/var/lib/kubelet /var/log/containers /var/log/pods /run/containerd /var/lib/cni /etc/cni)
RUN_PIDS="$NODE_DIR/run"
RUN_LOGS="$DIR/logs"
source "$WARREN_ROOT/hack/lib/processes.sh"
source "$WARREN_ROOT/hack/lib/pki.sh"

kubectl() { "$WARREN_BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
ctr_() { ctr --address "$SOCKET" --namespace k8s.io "$@"; }

# The FORWARD rules that keep pod traffic on the bridge (checked, inserted or deleted as one). In the mangle
# table, which kube-proxy leaves alone: in the filter table its rules would come first and accept Service
# traffic to any endpoint, kwok's made-up pod addresses included.
forward_rules() {
  local action="$1" rule
  for rule in "-i $REAL_NODE_BRIDGE ! -o $REAL_NODE_BRIDGE -j DROP" "! -i $REAL_NODE_BRIDGE -o $REAL_NODE_BRIDGE -j DROP"; do
    # shellcheck disable=SC2086
    case "$action" in
    insert) iptables -t mangle -C FORWARD $rule 2>/dev/null || iptables -t mangle -I FORWARD 1 $rule ;;
    delete) while iptables -t mangle -D FORWARD $rule 2>/dev/null; do :; done ;;
    esac
  done
}

# kube-proxy --cleanup leaves its canary chains, KUBE-FIREWALL and KUBE-MARK-MASQ: every KUBE-* chain and
# every jump into one goes, in both address families (only when the host had none before the node).
remove_kube_chains() {
  local cmd table rule chain chains
  for cmd in iptables ip6tables; do
    command -v "$cmd" >/dev/null || continue
    for table in filter nat mangle raw; do
      while read -r rule; do
        [[ -n "$rule" ]] && eval "$cmd -t $table -D ${rule#-A }" 2>/dev/null || true
      done < <("$cmd-save" -t "$table" 2>/dev/null | grep -E '^-A .* -j KUBE-' | grep -vE '^-A KUBE-' || true)
      chains="$("$cmd-save" -t "$table" 2>/dev/null | sed -n 's/^:\(KUBE-[^ ]*\) .*/\1/p')"
      for chain in $chains; do "$cmd" -t "$table" -F "$chain" 2>/dev/null || true; done
      for chain in $chains; do "$cmd" -t "$table" -X "$chain" 2>/dev/null || true; done
    done
  done
}

# The rules are read whole before grep looks (with pipefail, `iptables-save | grep -q` fails when
# grep stops at its first match while iptables-save still writes).
kube_chains_exist() { grep -q '^:KUBE-' <<<"$(iptables-save 2>/dev/null; ip6tables-save 2>/dev/null)"; }

save_host_state() {
  [[ -f "$HOST_STATE" ]] && return 0
  local s p
  {
    for s in "${SYSCTLS[@]}"; do echo "sysctl $s $(sysctl -n "$s")"; done
    for p in "${FIXED_PATHS[@]}"; do [[ -e "$p" ]] || echo "created $p"; done
    kube_chains_exist || echo "iptables KUBE-chains"
  } >"$HOST_STATE.partial"
  mv "$HOST_STATE.partial" "$HOST_STATE"
}

restore_host_state() {
  [[ -f "$HOST_STATE" ]] || return 0
  local kind key value
  while read -r kind key value; do
    case "$kind" in
    sysctl) sysctl -q -w "$key=$value" >/dev/null || log "could not restore $key=$value" ;;
    created) rm -rf "$key" ;;
    iptables) remove_kube_chains ;;
    esac
  done <"$HOST_STATE"
  rm -f "$HOST_STATE"
}

write_containerd_config() {
  mkdir -p "$NODE_DIR/containerd" "$NODE_DIR/cni/net.d"
  cat >"$NODE_DIR/containerd/config.toml" <<EOF
version = 2
root = "$NODE_DIR/containerd/root"
state = "$NODE_DIR/containerd/state"
[grpc]
  address = "$SOCKET"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:warren"
  # No AppArmor on these machines; and without CAP_SYS_RESOURCE no process may lower its
  # oom_score_adj below containerd's own, which the pause container's -998 would.
  disable_apparmor = true
  restrict_oom_score_adj = true
  tolerate_missing_hugetlb_controller = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_DIR/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    BinaryName = "$(command -v runc)"
    SystemdCgroup = false
EOF
  cat >"$NODE_DIR/cni/net.d/10-warren.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "warren-real-node", "plugins": [
  {"type": "bridge", "bridge": "$REAL_NODE_BRIDGE", "isGateway": true, "isDefaultGateway": true,
   "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$REAL_NODE_SUBNET", "gateway": "$REAL_NODE_GATEWAY"}]],
            "dataDir": "$NODE_DIR/cni/ipam"}}]}
EOF
}

write_kubelet_config() {
  mkdir -p "$NODE_DIR/kubelet"
  # Pods with dnsPolicy Default get no resolver (no network beyond the node); cluster DNS is CoreDNS.
  : >"$NODE_DIR/kubelet/resolv.conf"
  cat >"$NODE_DIR/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $REAL_NODE_GATEWAY
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 20248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://$SOCKET
cgroupDriver: cgroupfs
failSwapOn: false
oomScoreAdj: 0
makeIPTablesUtilChains: false
clusterDNS: [$CLUSTER_DNS]
clusterDomain: cluster.local
resolvConf: $NODE_DIR/kubelet/resolv.conf
podLogsDir: $NODE_DIR/kubelet/pod-logs
serializeImagePulls: false
# Images cannot be pulled again (no registry): never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%}
EOF
}

# CoreDNS as a pod, as in a production cluster: non-root on port 1053 (the Service maps 53 to it, so it
# needs no capability), the kubernetes plugin with the pod's ServiceAccount, readiness from its ready plugin.
coredns_manifest() {
  cat <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system, labels: {warren.dev/real-node: "true"}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "warren:coredns", labels: {warren.dev/real-node: "true"}}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "warren:coredns", labels: {warren.dev/real-node: "true"}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "warren:coredns"}
subjects:
- {kind: ServiceAccount, name: coredns, namespace: kube-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system, labels: {warren.dev/real-node: "true"}}
data:
  Corefile: |
    .:1053 {
        errors
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
        }
        cache 5
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {warren.dev/real-node: "true"}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      nodeSelector: {warren.dev/real-node: "true"}
      securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: coredns
        image: $COREDNS_IMAGE
        imagePullPolicy: Never
        args: [-conf, /etc/coredns/Corefile]
        ports:
        - {name: dns, containerPort: 1053, protocol: UDP}
        - {name: dns-tcp, containerPort: 1053, protocol: TCP}
        readinessProbe: {httpGet: {path: /ready, port: 8181}, periodSeconds: 5}
        resources: {requests: {cpu: 50m, memory: 32Mi}, limits: {memory: 128Mi}}
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
        volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
      volumes: [{name: config, configMap: {name: coredns}}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {warren.dev/real-node: "true"}}
spec:
  clusterIP: $CLUSTER_DNS
  selector: {k8s-app: kube-dns}
  ports:
  - {name: dns, port: 53, targetPort: 1053, protocol: UDP}
  - {name: dns-tcp, port: 53, targetPort: 1053, protocol: TCP}
EOF
}

make_node_credentials() {
  mkdir -p "$NODE_DIR/pki"
  cp "$PKI/ca.crt" "$NODE_DIR/pki/"
  # The Node authorizer and RBAC recognise the kubelet by this name and group; kube-proxy by the user the
  # default ClusterRoleBinding system:node-proxier names.
  sign_cert "$NODE_DIR/pki" kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "extendedKeyUsage=clientAuth" "$PKI"
  sign_cert "$NODE_DIR/pki" kube-proxy "/CN=system:kube-proxy" "extendedKeyUsage=clientAuth" "$PKI"
  client_kubeconfig "$NODE_DIR/kubelet/kubeconfig" "$APISERVER" "$NODE_DIR/pki" kubelet
  mkdir -p "$NODE_DIR/kube-proxy"
  client_kubeconfig "$NODE_DIR/kube-proxy/kubeconfig" "$APISERVER" "$NODE_DIR/pki" kube-proxy
}

make_bridge() {
  if ! ip link show "$REAL_NODE_BRIDGE" >/dev/null 2>&1; then
    ip link add "$REAL_NODE_BRIDGE" type bridge
    ip addr add "$REAL_NODE_GATEWAY/${REAL_NODE_SUBNET#*/}" dev "$REAL_NODE_BRIDGE"
  fi
  ip link set "$REAL_NODE_BRIDGE" up
  forward_rules insert
}

# Persistent volumes on the node's disk: the StorageClass real-node-local and VOLUMES local PersistentVolumes
# under $NODE_DIR/volumes (no provisioner: the claims bind to these when a pod is scheduled).
VOLUMES="${WARREN_REAL_NODE_VOLUMES:-6}"
make_volumes() {
  local i manifest="apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: real-node-local, labels: {warren.dev/real-node: \"true\"}}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
"
  for ((i = 0; i < VOLUMES; i++)); do
    mkdir -p "$NODE_DIR/volumes/pv-$i"
    manifest+="---
apiVersion: v1
kind: PersistentVolume
metadata: {name: real-node-pv-$i, labels: {warren.dev/real-node: \"true\"}}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: real-node-local
  local: {path: $NODE_DIR/volumes/pv-$i}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [$NODE_NAME]}]
"
  done
  printf '%s' "$manifest" | kubectl apply -f - >/dev/null
}

node_ready() {
  [[ "$(kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}

dns_ready() {
  python3 - "$CLUSTER_DNS" <<'EOF'
import socket, struct, sys
# One A query for kubernetes.default.svc.cluster.local: any answer means CoreDNS serves the cluster zone.
query = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
for label in "kubernetes.default.svc.cluster.local".split("."):
    query += bytes([len(label)]) + label.encode()
query += b"\x00" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
s.sendto(query, (sys.argv[1], 53))
answer = s.recv(512)
sys.exit(0 if struct.unpack(">H", answer[6:8])[0] > 0 else 1)
EOF
}

up() {
  [[ $(id -u) == 0 ]] || die "the real node needs root (containerd, the kubelet, network setup)"
  local tool
  for tool in containerd runc ctr iptables ip; do command -v "$tool" >/dev/null || die "$tool is missing: run hack/install-deps.sh"; done
  for tool in kubelet kube-proxy; do [[ -x "$WARREN_BIN/$tool" ]] || die "$WARREN_BIN/$tool is missing: run hack/build-tools.sh"; done
  [[ -f "$DIR/run/real-node" ]] ||
    die "the control plane does not serve a real node: use hack/local-cluster.sh up --real-node"
  if pid_of kubelet >/dev/null && node_ready; then
    log "real node $NODE_NAME already up"
    return 0
  fi
  local start=$SECONDS images
  images="$("$WARREN_ROOT/hack/build-node-images.sh")"
  save_host_state
  mkdir -p "$NODE_DIR" "$RUN_PIDS"
  make_bridge
  write_containerd_config
  write_kubelet_config
  make_node_credentials

  launch containerd containerd --config "$NODE_DIR/containerd/config.toml"
  wait_for containerd 30 ctr_ version
  local archive
  for archive in $images; do ctr_ images import "$archive" >/dev/null; done

  launch kubelet "$WARREN_BIN/kubelet" --config "$NODE_DIR/kubelet/config.yaml" \
    --kubeconfig "$NODE_DIR/kubelet/kubeconfig" --root-dir "$NODE_DIR/kubelet/root" \
    --cert-dir "$NODE_DIR/kubelet/pki" --hostname-override "$NODE_NAME" --node-ip "$REAL_NODE_GATEWAY" \
    --node-labels "warren.dev/real-node=true" --v=1
  wait_for kubelet 90 node_ready
  make_volumes

  # iptables mode; every Service connection is masqueraded, so replies between pods on the one bridge come
  # back through the host (no br_netfilter needed). conntrack sysctls are left alone.
  launch kube-proxy "$WARREN_BIN/kube-proxy" --kubeconfig "$NODE_DIR/kube-proxy/kubeconfig" \
    --hostname-override "$NODE_NAME" --proxy-mode iptables --cluster-cidr "$REAL_NODE_SUBNET" --masquerade-all \
    --metrics-bind-address 127.0.0.1:20249 --healthz-bind-address 127.0.0.1:20256 \
    --nodeport-addresses 127.0.0.1/32 --conntrack-max-per-core 0 \
    --conntrack-tcp-timeout-established 0 --conntrack-tcp-timeout-close-wait 0 --v=1
  coredns_manifest | kubectl apply -f - >/dev/null
  if ! wait_for "cluster DNS" 90 dns_ready; then
    kubectl -n kube-system get pods -l k8s-app=kube-dns -o wide >&2 || true
    kubectl -n kube-system logs deployment/coredns --tail 20 >&2 || true
    die "CoreDNS does not answer at $CLUSTER_DNS"
  fi
  log "real node $NODE_NAME Ready in $((SECONDS - start)) s (pods on $REAL_NODE_SUBNET, cluster DNS at $CLUSTER_DNS)"
}

node_containers() { ctr_ containers list --quiet 2>/dev/null || true; }
# Containers and pod sandboxes still running (the kubelet stops a deleted pod's sandbox, which removes its
# network; it removes the stopped containers only later).
running_tasks() { ctr_ tasks list 2>/dev/null | awk 'NR > 1 && $3 == "RUNNING" {print $1}' || true; }

down() {
  [[ -d "$NODE_DIR" || -f "$HOST_STATE" ]] || return 0
  # Pods first, through the kubelet, so that CNI removes their interfaces and addresses.
  if pid_of kubelet >/dev/null && kubectl get node "$NODE_NAME" >/dev/null 2>&1; then
    kubectl cordon "$NODE_NAME" >/dev/null 2>&1 || true
    coredns_manifest | kubectl delete -f - --wait=false >/dev/null 2>&1 || true
    kubectl delete pods -A --field-selector "spec.nodeName=$NODE_NAME" --grace-period=1 --wait=false >/dev/null 2>&1 || true
    local deadline=$((SECONDS + 60))
    while [[ -n "$(running_tasks)" ]] && ((SECONDS < deadline)); do sleep 0.5; done
  fi
  stop_process kubelet
  kubectl delete node "$NODE_NAME" --wait=false >/dev/null 2>&1 || true
  kubectl delete pv,storageclass -l warren.dev/real-node=true --wait=false >/dev/null 2>&1 || true
  # Whatever is still running (the kubelet was gone or too slow): killed through containerd.
  if pid_of containerd >/dev/null; then
    local id
    for id in $(ctr_ tasks list --quiet 2>/dev/null); do ctr_ tasks kill --signal SIGKILL "$id" >/dev/null 2>&1 || true; done
    sleep 0.5
    for id in $(ctr_ tasks list --quiet 2>/dev/null); do ctr_ tasks delete --force "$id" >/dev/null 2>&1 || true; done
    for id in $(node_containers); do ctr_ containers delete "$id" >/dev/null 2>&1 || true; done
  fi
  stop_process kube-proxy
  [[ -x "$WARREN_BIN/kube-proxy" ]] && "$WARREN_BIN/kube-proxy" --cleanup --proxy-mode iptables >/dev/null 2>&1 || true
  stop_process containerd
  pkill -KILL -f "containerd-shim-runc-v2 -namespace k8s.io -address $SOCKET" 2>/dev/null || true
  # Mounts left by the kubelet (volumes) and containerd (rootfs, shm, network namespaces), deepest first.
  local mount
  while read -r mount; do umount -l "$mount" 2>/dev/null || true; done < <(
    findmnt -rn -o TARGET | grep -E "^($NODE_DIR|/run/containerd|/var/lib/kubelet|/run/netns/cni-)" | sort -r)
  local netns
  for netns in /run/netns/cni-*; do [[ -e "$netns" ]] && rm -f "$netns"; done
  forward_rules delete
  local veth
  for veth in $(ip -o link show master "$REAL_NODE_BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link delete "$veth" 2>/dev/null || true
  done
  ! ip link show "$REAL_NODE_BRIDGE" >/dev/null 2>&1 || ip link delete "$REAL_NODE_BRIDGE"
  restore_host_state
  rm -rf "$NODE_DIR"
  log "real node down"
}

status() {
  local c ok=0
  for c in containerd kubelet kube-proxy; do
    if pid_of "$c" >/dev/null; then echo "$c: running (pid $(pid_of "$c"))"; else echo "$c: stopped"; ok=1; fi
  done
  if node_ready; then echo "node $NODE_NAME: Ready"; else echo "node $NODE_NAME: not Ready"; ok=1; fi
  return $ok
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
import) ctr_ images import "${2:?docker-archive}" >/dev/null ;;
kill) ctr_ tasks kill --signal SIGKILL "${2:?container id}" ;;
*) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
