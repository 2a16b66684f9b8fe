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
#   - seed 003 over MQTT (paho): a message published on one node reaches a
#     subscriber on another; a retained message stays on its node (RabbitMQ
#     4.0's store is node-local); with one broker stopped, the other two
#     still relay;
#   - seed 000's CountingService over AMQP and over MQTT, and seed 004's app
#     (its own namespace, a JSON config file in a ConfigMap, a BrokerBinding):
#     the active broker's container is SIGKILLed, and later the active broker
#     process is stopped with its container kept (only readiness fails); each
#     time warren moves the active node, both counts go on without a reset and
#     the app is restarted onto the new node;
#   - a publisher with confirms and a consumer (pika, on the host, through the
#     client Service's ClusterIP) run while a config change rolls the 3
#     brokers, a scale to 5 grows the cluster and a scale back to 3
#     (allowScaleDown) removes two nodes: 0 confirmed messages lost (the
#     preStop hook hands each node over before it stops; warren moves every
#     quorum queue's members off departing nodes before the StatefulSet
#     shrinks, and no member is left on them); the cluster then forgets the
#     two departed nodes (warren's Job), and a scale to 4 starts a fresh node
#     under a forgotten node's name that joins;
#   - examples/seed-000-counting as shipped (images made local, storage
#     ephemeral) on 2 real nodes: QuorumAtRisk=TooFewReplicas, and its MQTT
#     counting survives a SIGKILL of the active broker without a reset;
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
APP_NS=warren-real-app
SEED_NS=warren-real-seed000
RABBITMQ_IMAGE=localhost/rabbitmq:4.0.5-warren
step() { printf '[real-node %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() {
  printf '[real-node] FAILED: %s\n' "$*" >&2
  K get pods -A -o wide --field-selector spec.nodeName=warren-real-node >&2 2>/dev/null || true
  K logs -n "$RELEASE_NS" -l app.kubernetes.io/name=warren-operator --tail 30 >&2 2>/dev/null || true
  exit 1
}
wait_for() { # SECONDS DESCRIPTION COMMAND... (COMMAND runs again each second: pass a function, not "$(...)")
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
  K delete namespace "$NS" "$APP_NS" "$SEED_NS" "$RELEASE_NS" --ignore-not-found --wait=false >/dev/null 2>&1 || true
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
K delete namespace "$NS" "$APP_NS" "$SEED_NS" "$RELEASE_NS" --ignore-not-found >/dev/null
HELM install warren "$CHART" -n "$RELEASE_NS" --create-namespace --set replicas=2 \
  --set image.repository=localhost/warren-operator --set image.tag="$TAG" --set image.pullPolicy=Never \
  --set logFormat=text >/dev/null || fail "helm install"
wait_for 120 "both operator pods Ready" K rollout status deployment/warren-operator -n "$RELEASE_NS" --timeout=5s
wait_for 60 "a leader" test -n "$(K get lease warren-operator-leader -n "$RELEASE_NS" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null)"
holder=$(K get lease warren-operator-leader -n "$RELEASE_NS" -o jsonpath='{.spec.holderIdentity}')
# Listed before grep reads it: with pipefail, `kubectl | grep -q` fails when grep stops reading
# at its first match while kubectl still writes.
operator_pods=$(K get pods -n "$RELEASE_NS" -o name)
grep -q "${holder%%_*}" <<<"$operator_pods" || fail "the leader '$holder' is not one of the operator pods"
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
  failover: {policy: Automatic, unhealthyAfterSeconds: 5, allowedBindingNamespaces: [$APP_NS]}
EOF
formed=$SECONDS
all_ready() { [[ "$(K get bc rabbit -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="AllReplicasReady")].status}')" == True ]]; }
wait_for 300 "3 brokers Ready" all_ready
running_nodes() {
  K exec -n "$NS" rabbit-server-0 -c rabbitmq -- rabbitmq-diagnostics cluster_status --formatter json |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["running_nodes"]))'
}
member_nodes() { # every member the cluster lists, running or stopped
  K exec -n "$NS" rabbit-server-0 -c rabbitmq -- rabbitmq-diagnostics cluster_status --formatter json |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["disk_nodes"]))'
}
running_nodes_are() { [[ "$(running_nodes 2>/dev/null)" == "$1" ]]; }
wait_for 120 "one cluster of 3 running nodes" running_nodes_are 3
formation_seconds=$((SECONDS - formed))
version=$(K exec -n "$NS" rabbit-server-0 -c rabbitmq -- rabbitmq-diagnostics server_version --quiet)
step "cluster of 3 running nodes, RabbitMQ $version, formed in ${formation_seconds} s"
[[ "$version" == 4.0.5* ]] || fail "RabbitMQ is $version, not 4.0.5"

VENV="${WARREN_CACHE:-$HOME/.cache/warren}/python-e2e-$(sha256sum "$WARREN_ROOT/tests/e2e/python/requirements.txt" | cut -c1-12)"
if [[ ! -f "$VENV/ready" ]]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --disable-pip-version-check \
    -r "$WARREN_ROOT/tests/e2e/python/requirements.txt" && touch "$VENV/ready" || fail "cannot build the clients' virtualenv"
fi
secret_value() { K get secret rabbit-default-user -n "$NS" -o jsonpath="{.data.$1}" | base64 -d; }
pod_ip() { K get pod "rabbit-server-$1" -n "$NS" -o jsonpath='{.status.podIP}'; }
MQTT() { MQTT_USERNAME="$(secret_value username)" MQTT_PASSWORD="$(secret_value password)" \
           "$VENV/bin/python" "$WARREN_ROOT/tests/e2e/python/mqtt_cluster.py" "$@"; }

step "seed 003 over MQTT (paho): published on node 0, received by a subscriber on node 1"
MQTT relay "$(pod_ip 0)" "$(pod_ip 1)" 50 || fail "MQTT messages published on node 0 did not all reach node 1"
retained_payload="retained-$RANDOM"
MQTT retain "$(pod_ip 2)" warren/e2e/retained "$retained_payload" || fail "cannot publish a retained message on node 2"
[[ "$(MQTT retained "$(pod_ip 2)" warren/e2e/retained)" == "$retained_payload" ]] ||
  fail "a new subscriber on node 2 did not get the retained message published there"
# RabbitMQ 4.0 keeps retained messages on the node they were published on
# (rabbitmq-server#8096); examples/seed-003-mqtt-cluster/README.md says so and
# this pins it: a release that replicates them makes this fail, and the
# README is then updated.
on_other_node=$(MQTT retained "$(pod_ip 1)" warren/e2e/retained) || fail "cannot subscribe on node 1"
[[ -z "$on_other_node" ]] || fail "node 1 delivered node 2's retained message: update the seed-003 README"
step "retained message: delivered on node 2, not on node 1 (node-local store, as documented)"

step "seed 000: counting over AMQP and over MQTT; seed 004: an app in its own namespace bound to the cluster"
for protocol in amqp mqtt; do
  K apply -n "$NS" -f - >/dev/null <<EOF
apiVersion: warren.dev/v1alpha1
kind: CountingService
metadata: {name: demo-$protocol}
spec:
  brokerClusterRef: {name: rabbit}
  protocol: $protocol
  intervalSeconds: 1
  serviceImage: localhost/warren-counting:$TAG
  clientImage: localhost/warren-counting:$TAG
EOF
done
# Seed 004's app as it exists, never changed for warren: it reads the host
# from its JSON config file (a ConfigMap volume) at start and connects to it.
# The binding writes the active node there and restarts the app on a move.
K create namespace "$APP_NS" >/dev/null
K apply -n "$APP_NS" -f - >/dev/null <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: hello-world-config}
data:
  config.json: |
    {"service": "hello-world", "rabbitmq": {"host": "unset", "port": 5672, "queue": "hello-world-queue"}}
  rabbitmq.env: |
    RABBITMQ_URL=amqp://unset:5672/
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello-world}
spec:
  replicas: 1
  selector: {matchLabels: {app: hello-world}}
  template:
    metadata: {labels: {app: hello-world}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: app
        image: $RABBITMQ_IMAGE
        imagePullPolicy: Never
        command:
        - bash
        - -c
        - |
          trap 'exit 0' TERM
          host=\$(sed -n 's/.*"host": *"\([^"]*\)".*/\1/p' /etc/hello-world/config.json)
          while :; do
            if (exec 3<>"/dev/tcp/\$host/5672") 2>/dev/null; then echo "connected to \$host:5672"; else echo "cannot reach \$host:5672"; fi
            sleep 2 & wait \$!
          done
        envFrom: [{secretRef: {name: rabbitmq-secret}}]
        volumeMounts: [{name: config, mountPath: /etc/hello-world}]
        resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {memory: 64Mi}}
      volumes: [{name: config, configMap: {name: hello-world-config}}]
---
apiVersion: warren.dev/v1alpha1
kind: BrokerBinding
metadata: {name: hello-world}
spec:
  brokerClusterRef: {name: rabbit, namespace: $NS}
  credentialsSecretName: rabbitmq-secret
  targets:
  - {kind: ConfigMap, name: hello-world-config, key: config.json, format: json, fields: {host: rabbitmq.host, port: rabbitmq.port}}
  - {kind: ConfigMap, name: hello-world-config, key: rabbitmq.env, format: env, fields: {uri: RABBITMQ_URL}}
  workloads:
  - {kind: Deployment, name: hello-world}
EOF
last_count() { # SERVICE
  K logs -n "$NS" "deployment/$1-client" --tail 200 2>/dev/null | sed -n 's/.*received.*count=\([0-9]*\).*/\1/p' | tail -n1
}
counting() { local c; c=$(last_count "$1"); [[ -n "$c" && "$c" -gt "${2:-0}" ]]; }
active_node() { K get bc rabbit -n "$NS" -o jsonpath='{.status.activeNode}'; }
active_pod() { sed -n 's/^rabbit@\([^.]*\)\..*/\1/p' <<<"$(active_node)"; }
app_connected_to() { grep -q "^connected to $1\." <<<"$(K logs -n "$APP_NS" deployment/hello-world --tail 1 2>/dev/null)"; }
for protocol in amqp mqtt; do wait_for 180 "the $protocol client to receive counts" counting "demo-$protocol"; done
wait_for 180 "the app to connect to the active node" app_connected_to "$(active_pod)"
# One failure of each kind; after each, warren moves the active node, both
# counting pairs go on without a reset and the app is restarted onto the new
# node. FAILURE is "kill" (the broker container SIGKILLed) or "stop" (the
# broker process stopped, the container kept: only the readiness probe fails).
failover() { # FAILURE
  local active pod container before_amqp before_mqtt failed_at moved_at resumed_at count protocol
  active=$(active_node); pod=$(active_pod); FAILED_POD=$pod
  before_amqp=$(last_count demo-amqp); before_mqtt=$(last_count demo-mqtt)
  step "counts $before_amqp (amqp) and $before_mqtt (mqtt) through $active; $1 of its broker"
  failed_at=$(date +%s.%N)
  if [[ $1 == kill ]]; then
    container=$(K get pod "$pod" -n "$NS" -o jsonpath='{.status.containerStatuses[?(@.name=="rabbitmq")].containerID}')
    "$WARREN_ROOT/hack/real-node.sh" kill "${container#containerd://}"
  else
    K exec -n "$NS" "$pod" -c rabbitmq -- rabbitmqctl stop_app --quiet >/dev/null || fail "rabbitmqctl stop_app on $pod"
  fi
  moved() { [[ "$(active_node)" != "$active" ]]; }
  wait_for 180 "warren to move the active node" moved
  moved_at=$(date +%s.%N)
  for protocol in amqp mqtt; do
    count=$(last_count "demo-$protocol")
    wait_for 180 "$protocol counts after the failover" counting "demo-$protocol" "$count"
  done
  resumed_at=$(date +%s.%N)
  for protocol in amqp mqtt; do
    count=$(last_count "demo-$protocol"); before=$before_amqp; [[ $protocol == mqtt ]] && before=$before_mqtt
    ((count > before)) || fail "the $protocol count went from $before to $count: it was reset"
  done
  wait_for 180 "the app to be restarted onto $(active_pod)" app_connected_to "$(active_pod)"
  step "active node now $(active_node); counts $(last_count demo-amqp) (amqp), $(last_count demo-mqtt) (mqtt), no reset; the app connects to $(active_pod)"
  GAPS+="$1: active node moved $(python3 -c "print(f'{$moved_at - $failed_at:.1f}')") s, counts again $(python3 -c "print(f'{$resumed_at - $failed_at:.1f}')") s; "
}
GAPS=""
failover kill
wait_for 300 "3 brokers Ready again" all_ready
failover stop
stopped_pod=$FAILED_POD
[[ "$(K get pod "$stopped_pod" -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == False ]] ||
  fail "$stopped_pod is Ready with its broker stopped"
others=()
for n in 0 1 2; do [[ "rabbit-server-$n" == "$stopped_pod" ]] || others+=("$n"); done
step "seed 003 with $stopped_pod's broker stopped: MQTT between nodes ${others[0]} and ${others[1]}"
MQTT relay "$(pod_ip "${others[0]}")" "$(pod_ip "${others[1]}")" 50 || fail "MQTT between the two running nodes"
MQTT relay "$(pod_ip "${others[1]}")" "$(pod_ip "${others[0]}")" 50 || fail "MQTT between the two running nodes"
K exec -n "$NS" "$stopped_pod" -c rabbitmq -- rabbitmqctl start_app --quiet >/dev/null || fail "rabbitmqctl start_app on $stopped_pod"
wait_for 300 "3 brokers Ready again" all_ready

step "a publisher with confirms and a consumer (pika) through the client Service while the cluster rolls and grows"
user=$(secret_value username)
password=$(secret_value password)
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
new_revision() { [[ "$(K get sts rabbit-server -n "$NS" -o jsonpath='{.status.updateRevision}')" != "$revision" ]]; }
wait_for 60 "a new StatefulSet revision" new_revision
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
[[ -n "$(K get events -n "$NS" --field-selector reason=ScaleDownPrepared -o name)" ]] || fail "no ScaleDownPrepared Event"
members=$(K exec -n "$NS" rabbit-server-0 -c rabbitmq -- rabbitmqctl list_queues name type members --formatter json --quiet)
python3 - "$members" <<'PY' || fail "a quorum queue kept a member on a departed node: $members"
import json, sys
for queue in json.loads(sys.argv[1]):
    if queue.get("type") == "quorum":
        departed = [m for m in queue.get("members", []) if "rabbit-server-3." in m or "rabbit-server-4." in m]
        assert not departed, (queue["name"], departed)
        assert len(queue["members"]) == 3, (queue["name"], queue["members"])
PY
wait_for 120 "3 running nodes after the scale-down" running_nodes_are 3
# The departed nodes are forgotten (a Job runs forget_cluster_node): the
# cluster's members are the 3 remaining nodes, not 3 running and 2 stopped.
forgotten() { [[ -z "$(K get bc rabbit -n "$NS" -o jsonpath='{.status.departedNodes}')" ]] && [[ "$(member_nodes 2>/dev/null)" == 3 ]]; }
wait_for 300 "the cluster to forget nodes 3 and 4" forgotten
forget_seconds=$((SECONDS - down_started))
[[ -n "$(K get events -n "$NS" --field-selector reason=DepartedNodesForgotten -o name)" ]] || fail "no DepartedNodesForgotten Event"
job_gone() { [[ -z "$(K get job rabbit-forget-nodes -n "$NS" -o name --ignore-not-found)" ]]; }
wait_for 60 "the forget Job to be deleted" job_gone
[[ -z "$(K get pvc persistence-rabbit-server-3 persistence-rabbit-server-4 -n "$NS" -o name --ignore-not-found)" ]] ||
  fail "the departed nodes' volumes were kept"
step "cluster members: the 3 remaining nodes (departed nodes forgotten ${forget_seconds} s after the scale-down began)"
touch "$LOAD/stop"
wait "$LOAD_PID" || fail "the load generator failed: $(tail -n 5 "$LOAD/out.log")"
LOAD_PID=""
report=$(cat "$LOAD/report.json")
step "load: $report"
read -r confirmed lost stall <<<"$(python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["confirmed"], r["lost"], round(r["longest_stall_s"], 1))' <<<"$report")"
((confirmed > 0)) || fail "nothing was confirmed"
((lost == 0)) || fail "$lost confirmed messages were lost: $report"

step "seed 000's example as shipped, on 2 real nodes (only the images local and the storage ephemeral)"
K create namespace "$SEED_NS" >/dev/null
for manifest in broker-cluster counting-service; do
  K create -n "$SEED_NS" --dry-run=client -o json -f "$WARREN_ROOT/examples/seed-000-counting/$manifest.yaml" |
    python3 -c '
import json, sys
o = json.load(sys.stdin); spec = o["spec"]
if o["kind"] == "BrokerCluster":
    spec["image"] = sys.argv[1]; spec["persistence"] = {"ephemeral": True}
else:
    spec["serviceImage"] = spec["clientImage"] = sys.argv[2]
print(json.dumps(o))' "$RABBITMQ_IMAGE" "localhost/warren-counting:$TAG" | K apply -n "$SEED_NS" -f - >/dev/null ||
    fail "cannot apply examples/seed-000-counting/$manifest.yaml"
done
seed_count() { K logs -n "$SEED_NS" deployment/demo-client --tail 200 2>/dev/null | sed -n 's/.*received.*count=\([0-9]*\).*/\1/p' | tail -n1; }
seed_counting() { local c; c=$(seed_count); [[ -n "$c" && "$c" -gt "${1:-0}" ]]; }
wait_for 300 "seed 000's client to receive counts" seed_counting
[[ "$(K get bc counting -n "$SEED_NS" -o jsonpath='{.status.conditions[?(@.type=="QuorumAtRisk")].reason}')" == TooFewReplicas ]] ||
  fail "a 2-node cluster does not report QuorumAtRisk/TooFewReplicas"
seed_active=$(K get bc counting -n "$SEED_NS" -o jsonpath='{.status.activeNode}')
seed_pod=$(sed -n 's/^rabbit@\([^.]*\)\..*/\1/p' <<<"$seed_active")
seed_before=$(seed_count)
seed_killed_at=$(date +%s.%N)
container=$(K get pod "$seed_pod" -n "$SEED_NS" -o jsonpath='{.status.containerStatuses[?(@.name=="rabbitmq")].containerID}')
"$WARREN_ROOT/hack/real-node.sh" kill "${container#containerd://}"
seed_moved() { [[ "$(K get bc counting -n "$SEED_NS" -o jsonpath='{.status.activeNode}')" != "$seed_active" ]]; }
wait_for 180 "warren to move seed 000's active node" seed_moved
seed_after=$(seed_count)
wait_for 180 "seed 000's counts after the failover" seed_counting "$seed_after"
seed_gap=$(python3 -c "import time; print(f'{time.time() - $seed_killed_at:.1f}')")
(( $(seed_count) > seed_before )) || fail "seed 000's count went from $seed_before to $(seed_count): it was reset"
step "seed 000 on 2 nodes: QuorumAtRisk=TooFewReplicas; $seed_pod's broker killed, counts $seed_before -> $(seed_count) (no reset), flowing again after ${seed_gap} s"
K delete namespace "$SEED_NS" --wait=false >/dev/null

step "scale to 4 again: a fresh node under a forgotten node's name joins"
K patch bc rabbit -n "$NS" --type merge -p '{"spec":{"replicas":4}}' >/dev/null
rejoined() { rolled 4 && [[ "$(member_nodes 2>/dev/null)" == 4 ]]; }
wait_for 600 "4 running nodes" rejoined

step "password rotation: a new password in the default-user Secret reaches the running brokers"
amqp_login() { # PASSWORD: exit 0 when the brokers accept it, 1 when they refuse the login, 2 otherwise
  "$VENV/bin/python" -c '
import sys, pika
params = pika.ConnectionParameters(sys.argv[1], 5672, "/", pika.PlainCredentials(sys.argv[2], sys.argv[3]),
                                   connection_attempts=1, socket_timeout=5)
try:
    pika.BlockingConnection(params).close()
except (pika.exceptions.ProbableAuthenticationError, pika.exceptions.AuthenticationError):
    sys.exit(1)
except pika.exceptions.AMQPConnectionError as error:
    said = str(error) + repr(error)
    print(said, file=sys.stderr)
    sys.exit(1 if "ACCESS_REFUSED" in said or "403" in said else 2)
' "$service_ip" "$user" "$1"
}
old_password=$(secret_value password)
new_password="rotated-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
K patch secret rabbit-default-user -n "$NS" --type merge -p "{\"stringData\":{\"password\":\"$new_password\"}}" >/dev/null
rotated() { [[ "$(K get bc rabbit -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="PasswordSynced")].status}')" == True ]] &&
            [[ -n "$(K get events -n "$NS" --field-selector reason=PasswordRotated -o name)" ]]; }
wait_for 120 "PasswordSynced after the rotation" rotated
amqp_login "$new_password" || fail "the brokers do not take the rotated password (exit $?)"
refused=0; amqp_login "$old_password" 2>/dev/null || refused=$?
((refused == 1)) || fail "the old password was not refused as a login (exit $refused)"
unset old_password new_password
step "the brokers accept the new password and refuse the old one"

# A create refused in a namespace being deleted (seed 000's, deleted above while warren still
# reconciled its cluster) is no permission problem: the same exception as tests/e2e/run.sh.
K logs -n "$RELEASE_NS" -l app.kubernetes.io/name=warren-operator --tail -1 2>/dev/null | grep -E ' error |Forbidden' |
  grep -v 'because it is being terminated' && fail "the operator logged errors"

step "delete everything; the node down leaves the host as it was"
K delete namespace "$NS" "$APP_NS" "$SEED_NS" --wait=true --timeout=120s >/dev/null || fail "namespaces $NS, $APP_NS and $SEED_NS not deleted"
HELM uninstall warren -n "$RELEASE_NS" >/dev/null
for node in $(kwok_nodes); do K uncordon "$node" >/dev/null; done
"$WARREN_ROOT/hack/real-node.sh" down
host_state >/tmp/warren-real-node.after
diff /tmp/warren-real-node.before /tmp/warren-real-node.after >&2 || fail "the host differs after the node went down"
for p in "$WARREN_BIN/kubelet" "$WARREN_BIN/kube-proxy" "$WARREN_BIN/coredns" "containerd --config" containerd-shim-runc-v2; do
  ! pgrep -f "$p" >/dev/null || fail "$p still runs"
done
printf 'FIGURES real node: node up %s s; 3-node RabbitMQ 4.0.5 cluster formed %s s after apply; failovers (from the failure) %srolling restart of 3 in %s s, scale 3->5 in %s s, scale 5->3 in %s s (departed nodes forgotten after %s s), with %s confirmed, 0 lost, longest publish stall %s s; seed 000 on 2 nodes: counts again %s s after the kill\n' \
  "$node_seconds" "$formation_seconds" "$GAPS" "$roll_seconds" "$scale_seconds" "$down_seconds" "$forget_seconds" "$confirmed" "$stall" "$seed_gap"
step "passed"
