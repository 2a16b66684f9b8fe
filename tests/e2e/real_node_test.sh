#!/usr/bin/env bash
# End-to-end on real pods: the local control plane with a real node
# (hack/real-node.sh: kubelet, containerd, runc, CNI, kube-proxy, CoreDNS),
# images built here (hack/build-node-images.sh, hack/build-image.sh), nothing
# pulled. The kwok nodes are cordoned for the run, so every pod runs a real
# process.
#   - the chart installed with the locally built operator image: two operator
#     pods with in-cluster config, their ServiceAccount, probes, one leader;
#   - a 3-node BrokerCluster of RabbitMQ 4.0.5 forms one cluster
#     (rabbitmq-diagnostics cluster_status through exec lists 3 running nodes);
#   - seed 000's CountingService reaches it through the client Service's DNS
#     name; the active broker's container is SIGKILLed; warren moves the
#     active node and the counting continues without a reset;
#   - a publisher with confirms and a consumer (pika, on the host, through the
#     client Service's ClusterIP) run while a config change rolls the 3
#     brokers, a scale to 5 grows the cluster and a scale back to 3
#     (allowScaleDown) removes two nodes: 0 confirmed messages lost (the
#     preStop hook hands each node over before it stops; warren moves every
#     quorum queue's members off departing nodes before the StatefulSet
#     shrinks, and no member is left on them);
#   - deleting everything and `hack/real-node.sh down` leave nothing on the
#     host (processes, bridge, iptables rules, mounts, sysctls).
# Prints the figures: node up time, cluster formation time, failover gap.
# Needs root. hack/test.sh sets the environment.
set -euo pipefail
: "${WARREN_ROOT:?}" "${WARREN_BIN:?}" "${WARREN_TEST_KUBECONFIG:?}"
K() { "$WARREN_BIN/kubectl" --kubeconfig "$WARREN_TEST_KUBECONFIG" "$@"; }
HELM() { "$WARREN_BIN/helm" --kubeconfig "$WARREN_TEST_KUBECONFIG" "$@"; }
CHART="$WARREN_ROOT/charts/warren-operator"
TAG=e2e-test
RELEASE_NS=warren-real-system
NS=warren-real
RABBITMQ_IMAGE=localhost/rabbitmq:4.0.5-warren
step() { printf '[real-node %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() {
  printf '[real-node] FAILED: %s\n' "$*" >&2
  K get pods -A -o wide --field-selector spec.nodeName=warren-real-node >&2 2>/dev/null || true
  K logs -n "$RELEASE_NS" -l app.kubernetes.io/name=warren-operator --tail 30 >&2 2>/dev/null || true
  exit 1
}
wait_for() { # SECONDS DESCRIPTION COMMAND...
  local seconds="$1" what="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do ((SECONDS < deadline)) || fail "timed out waiting for $what"; sleep 1; done
}
[[ $(id -u) == 0 ]] || fail "needs root (the real node runs containerd and the kubelet)"

kwok_nodes() { K get nodes -l type=kwok -o name; }
host_state() { # what must be the same before the node and after `down`
  sysctl -n vm.overcommit_memory kernel.panic kernel.panic_on_oops net.ipv4.ip_forward net.ipv4.conf.all.route_localnet
  ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort
  { iptables-save; ip6tables-save; } | { grep -v -e '^#' -e '^:' -e '^COMMIT' -e '^\*' || true; } | sort
  findmnt -rn -o TARGET | sort
}
cleanup() {
  set +e
  if [[ -n "${LOAD_PID:-}" ]]; then kill "$LOAD_PID" 2>/dev/null || true; fi
  HELM uninstall warren -n "$RELEASE_NS" >/dev/null 2>&1 || true
  K delete namespace "$NS" "$RELEASE_NS" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  for node in $(kwok_nodes 2>/dev/null); do K uncordon "$node" >/dev/null 2>&1 || true; done
  "$WARREN_ROOT/hack/real-node.sh" down >/dev/null 2>&1
  [[ -n "${LOAD:-}" ]] && rm -rf "$LOAD"
  return 0
}
trap cleanup EXIT
LOAD_PID=""

"$WARREN_ROOT/hack/real-node.sh" down
host_state >/tmp/warren-real-node.before
step "the images: operator (Dockerfile, buildah) and the node's (pause, RabbitMQ 4.0.5)"
podman image exists "localhost/warren-operator:$TAG" || "$WARREN_ROOT/hack/build-image.sh" "$TAG" >/dev/null
started=$SECONDS
step "real node up"
"$WARREN_ROOT/hack/local-cluster.sh" up --real-node
node_seconds=$((SECONDS - started))
"$WARREN_ROOT/hack/real-node.sh" import "${WARREN_CACHE:-$HOME/.cache/warren}/images/warren-$TAG.tar"
for node in $(kwok_nodes); do K cordon "$node" >/dev/null; done

step "helm install with the local image: the operator in pods"
K delete namespace "$NS" "$RELEASE_NS" --ignore-not-found >/dev/null
HELM install warren "$CHART" -n "$RELEASE_NS" --create-namespace --set replicas=2 \
  --set image.repository=localhost/warren-operator --set image.tag="$TAG" --set image.pullPolicy=Never \
  --set logFormat=text >/dev/null || fail "helm install"
wait_for 120 "both operator pods Ready" K rollout status deployment/warren-operator -n "$RELEASE_NS" --timeout=5s
wait_for 60 "a leader" test -n "$(K get lease warren-operator-leader -n "$RELEASE_NS" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null)"
holder=$(K get lease warren-operator-leader -n "$RELEASE_NS" -o jsonpath='{.spec.holderIdentity}')
K get pods -n "$RELEASE_NS" -o name | grep -q "${holder%%_*}" || fail "the leader '$holder' is not one of the operator pods"
step "leader: $holder"

step "a 3-node BrokerCluster of RabbitMQ 4.0.5"
K create namespace "$NS" >/dev/null
K apply -n "$NS" -f - >/dev/null <<EOF
apiVersion: warren.dev/v1alpha1
kind: BrokerCluster
metadata: {name: rabbit}
spec:
  replicas: 3
  image: $RABBITMQ_IMAGE
  persistence: {storage: 1Gi, storageClassName: real-node-local}
  mqtt: {enabled: true, port: 1883}
  resources:
    requests: {cpu: 100m, memory: 256Mi}
    limits: {memory: 1Gi}
  failover: {policy: Automatic, unhealthyAfterSeconds: 5}
EOF
formed=$SECONDS
all_ready() { [[ "$(K get bc rabbit -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="AllReplicasReady")].status}')" == True ]]; }
wait_for 300 "3 brokers Ready" all_ready
running_nodes() {
  K exec -n "$NS" rabbit-server-0 -c rabbitmq -- rabbitmq-diagnostics cluster_status --formatter json |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["running_nodes"]))'
}
wait_for 120 "one cluster of 3 running nodes" test "$(running_nodes 2>/dev/null)" == 3
formation_seconds=$((SECONDS - formed))
version=$(K exec -n "$NS" rabbit-server-0 -c rabbitmq -- rabbitmq-diagnostics server_version --quiet)
step "cluster of 3 running nodes, RabbitMQ $version, formed in ${formation_seconds} s"
[[ "$version" == 4.0.5* ]] || fail "RabbitMQ is $version, not 4.0.5"

step "seed 000: the counting service and client through the client Service's DNS name"
K apply -n "$NS" -f - >/dev/null <<EOF
apiVersion: warren.dev/v1alpha1
kind: CountingService
metadata: {name: demo}
spec:
  brokerClusterRef: {name: rabbit}
  protocol: amqp
  intervalSeconds: 1
  serviceImage: localhost/warren-counting:$TAG
  clientImage: localhost/warren-counting:$TAG
EOF
last_count() { K logs -n "$NS" deployment/demo-client --tail 200 2>/dev/null | sed -n 's/.*received.*count=\([0-9]*\).*/\1/p' | tail -n1; }
counting() { local c; c=$(last_count); [[ -n "$c" && "$c" -gt "${1:-0}" ]]; }
wait_for 180 "the client to receive counts" counting
before=$(last_count)
active=$(K get bc rabbit -n "$NS" -o jsonpath='{.status.activeNode}')
pod=$(sed -n 's/^rabbit@\([^.]*\)\..*/\1/p' <<<"$active")
step "count $before through $active; SIGKILL of $pod's broker container"
container=$(K get pod "$pod" -n "$NS" -o jsonpath='{.status.containerStatuses[?(@.name=="rabbitmq")].containerID}')
killed_at=$(date +%s.%N)
"$WARREN_ROOT/hack/real-node.sh" kill "${container#containerd://}"
moved() { [[ "$(K get bc rabbit -n "$NS" -o jsonpath='{.status.activeNode}')" != "$active" ]]; }
wait_for 120 "warren to move the active node" moved
moved_at=$(date +%s.%N)
after_kill=$(last_count)
wait_for 180 "counts after the failover" counting "$after_kill"
resumed_at=$(date +%s.%N)
now=$(last_count)
((now > before)) || fail "the count went from $before to $now: it was reset"
step "active node now $(K get bc rabbit -n "$NS" -o jsonpath='{.status.activeNode}'); count $now (no reset)"
move_gap=$(python3 -c "print(f'{$moved_at - $killed_at:.1f}')")
resume_gap=$(python3 -c "print(f'{$resumed_at - $killed_at:.1f}')")
step "a publisher with confirms and a consumer (pika) through the client Service while the cluster rolls and grows"
VENV="${WARREN_CACHE:-$HOME/.cache/warren}/python-e2e-$(sha256sum "$WARREN_ROOT/tests/e2e/python/requirements.txt" | cut -c1-12)"
if [[ ! -f "$VENV/ready" ]]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --disable-pip-version-check \
    -r "$WARREN_ROOT/tests/e2e/python/requirements.txt" && touch "$VENV/ready" || fail "cannot build the pika virtualenv"
fi
user=$(K get secret rabbit-default-user -n "$NS" -o jsonpath='{.data.username}' | base64 -d)
password=$(K get secret rabbit-default-user -n "$NS" -o jsonpath='{.data.password}' | base64 -d)
service_ip=$(K get service rabbit -n "$NS" -o jsonpath='{.spec.clusterIP}')
LOAD="$(mktemp -d)"
"$VENV/bin/python" "$WARREN_ROOT/tests/e2e/python/confirms.py" "amqp://$user:$password@$service_ip:5672/%2F" \
  e2e-confirms "$LOAD/stop" "$LOAD/report.json" >"$LOAD/out.log" 2>&1 &
LOAD_PID=$!
unset password
confirms_so_far() { [[ "$(cat "$LOAD/report.json.progress" 2>/dev/null || echo 0)" -gt "$1" ]]; }
wait_for 60 "the first confirms" confirms_so_far 50
rolled() { # REPLICAS: the StatefulSet runs its current revision on every replica, and the brokers see them all
  [[ "$(K get sts rabbit-server -n "$NS" -o jsonpath='{.status.updatedReplicas}/{.status.readyReplicas}/{.status.currentRevision}')" == \
     "$1/$1/$(K get sts rabbit-server -n "$NS" -o jsonpath='{.status.updateRevision}')" ]] &&
    [[ "$(running_nodes 2>/dev/null)" == "$1" ]]
}
revision=$(K get sts rabbit-server -n "$NS" -o jsonpath='{.status.currentRevision}')
roll_started=$SECONDS
K patch bc rabbit -n "$NS" --type merge -p '{"spec":{"rabbitmq":{"additionalConfig":"log.console.level = info"}}}' >/dev/null
wait_for 60 "a new StatefulSet revision" test "$(K get sts rabbit-server -n "$NS" -o jsonpath='{.status.updateRevision}')" != "$revision"
wait_for 600 "the rolling restart" rolled 3
roll_seconds=$((SECONDS - roll_started))
step "rolling restart of 3 brokers done in ${roll_seconds} s; scaling to 5"
scale_started=$SECONDS
K patch bc rabbit -n "$NS" --type merge -p '{"spec":{"replicas":5}}' >/dev/null
wait_for 900 "5 brokers in one cluster" rolled 5
scale_seconds=$((SECONDS - scale_started))
step "cluster of 5 in ${scale_seconds} s; scaling down to 3 (allowScaleDown): quorum-queue members move off nodes 3 and 4 first"
# The load's queue gets members on the two nodes that will go, so that warren has something to move.
for node in 3 4; do
  K exec -n "$NS" rabbit-server-0 -c rabbitmq -- rabbitmq-queues grow "rabbit@rabbit-server-$node.rabbit-nodes.$NS" all \
    --quiet >/dev/null || fail "rabbitmq-queues grow onto node $node"
done
five_members() { K exec -n "$NS" rabbit-server-0 -c rabbitmq -- rabbitmqctl list_queues name members --formatter json --quiet |
                 python3 -c 'import json,sys; q=[x for x in json.load(sys.stdin) if x["name"]=="e2e-confirms"]; sys.exit(0 if q and len(q[0]["members"])==5 else 1)'; }
wait_for 60 "e2e-confirms on 5 nodes" five_members
down_started=$SECONDS
K patch bc rabbit -n "$NS" --type merge -p '{"spec":{"replicas":3,"allowScaleDown":true}}' >/dev/null
three_pods() { [[ "$(K get sts rabbit-server -n "$NS" -o jsonpath='{.status.replicas}/{.status.readyReplicas}')" == 3/3 ]] &&
               [[ -z "$(K get pod rabbit-server-3 rabbit-server-4 -n "$NS" -o name --ignore-not-found)" ]]; }
wait_for 600 "the StatefulSet down to 3 pods" three_pods
down_seconds=$((SECONDS - down_started))
K get events -n "$NS" --field-selector reason=ScaleDownPrepared -o name | grep -q . || fail "no ScaleDownPrepared Event"
members=$(K exec -n "$NS" rabbit-server-0 -c rabbitmq -- rabbitmqctl list_queues name type members --formatter json --quiet)
python3 - "$members" <<'PY' || fail "a quorum queue kept a member on a departed node: $members"
import json, sys
for queue in json.loads(sys.argv[1]):
    if queue.get("type") == "quorum":
        departed = [m for m in queue.get("members", []) if "rabbit-server-3." in m or "rabbit-server-4." in m]
        assert not departed, (queue["name"], departed)
        assert len(queue["members"]) == 3, (queue["name"], queue["members"])
PY
wait_for 120 "3 running nodes after the scale-down" test "$(running_nodes 2>/dev/null)" == 3
touch "$LOAD/stop"
wait "$LOAD_PID" || fail "the load generator failed: $(tail -n 5 "$LOAD/out.log")"
LOAD_PID=""
report=$(cat "$LOAD/report.json")
step "load: $report"
read -r confirmed lost stall <<<"$(python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["confirmed"], r["lost"], round(r["longest_stall_s"], 1))' <<<"$report")"
((confirmed > 0)) || fail "nothing was confirmed"
((lost == 0)) || fail "$lost confirmed messages were lost: $report"

K logs -n "$RELEASE_NS" -l app.kubernetes.io/name=warren-operator --tail -1 2>/dev/null | grep -E ' error |Forbidden' &&
  fail "the operator logged errors"

step "delete everything; the node down leaves the host as it was"
K delete namespace "$NS" --wait=true --timeout=120s >/dev/null || fail "namespace $NS not deleted"
HELM uninstall warren -n "$RELEASE_NS" >/dev/null
for node in $(kwok_nodes); do K uncordon "$node" >/dev/null; done
"$WARREN_ROOT/hack/real-node.sh" down
host_state >/tmp/warren-real-node.after
diff /tmp/warren-real-node.before /tmp/warren-real-node.after >&2 || fail "the host differs after the node went down"
for p in "$WARREN_BIN/kubelet" "$WARREN_BIN/kube-proxy" "$WARREN_BIN/coredns" "containerd --config" containerd-shim-runc-v2; do
  ! pgrep -f "$p" >/dev/null || fail "$p still runs"
done
printf 'FIGURES real node: node up %s s; 3-node RabbitMQ 4.0.5 cluster formed %s s after apply; active broker killed -> active node moved %s s, counts flowing again %s s; rolling restart of 3 in %s s, scale 3->5 in %s s, scale 5->3 in %s s, with %s confirmed, 0 lost, longest publish stall %s s\n' \
  "$node_seconds" "$formation_seconds" "$move_gap" "$resume_gap" "$roll_seconds" "$scale_seconds" "$down_seconds" "$confirmed" "$stall"
step "passed"
