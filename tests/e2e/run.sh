#!/usr/bin/env bash
# End-to-end on the real local control plane, as a user would run warren:
# helm lint/template checks, helm install of the chart, then the operator
# binary run outside the cluster but authenticated as the chart's
# ServiceAccount (a TokenRequest token), so any permission the chart lacks
# fails this test. Every example is applied and must become Ready; a failover
# must reroute the bound app and leave Events; helm upgrade must apply a
# changed value; deleting everything must leave nothing behind; and the
# operator's log must hold no error line this test did not expect.
#
#   tests/e2e/run.sh OPERATOR_BINARY   (hack/test.sh sets the environment)
set -euo pipefail
OPERATOR="${1:?operator binary}"
: "${WARREN_ROOT:?}" "${WARREN_BIN:?}" "${WARREN_TEST_KUBECONFIG:?}"
K() { "$WARREN_BIN/kubectl" --kubeconfig "$WARREN_TEST_KUBECONFIG" "$@"; }
HELM() { "$WARREN_BIN/helm" --kubeconfig "$WARREN_TEST_KUBECONFIG" "$@"; }
CHART="$WARREN_ROOT/charts/warren-operator"
WORK="$(mktemp -d)"
RELEASE_NS=warren-e2e-system
APPS_NS=warren-e2e
OP_PID=""
step() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() { printf '[e2e] FAILED: %s\n' "$*" >&2; [[ -f "$WORK/operator.log" ]] && tail -n 30 "$WORK/operator.log" >&2; exit 1; }
wait_for() { # SECONDS DESCRIPTION COMMAND...
  local seconds="$1" what="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do ((SECONDS < deadline)) || fail "timed out waiting for $what"; sleep 1; done
}
cleanup() {
  [[ -n "$OP_PID" ]] && kill "$OP_PID" 2>/dev/null && wait "$OP_PID" 2>/dev/null
  K delete namespace "$APPS_NS" services infrastructure --ignore-not-found --wait=false >/dev/null 2>&1 || true
  HELM uninstall warren -n "$RELEASE_NS" >/dev/null 2>&1 || true
  K delete namespace "$RELEASE_NS" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Leftovers of an earlier run must be gone first.
HELM uninstall warren -n "$RELEASE_NS" >/dev/null 2>&1 || true
K delete namespace "$APPS_NS" services infrastructure "$RELEASE_NS" --ignore-not-found --wait=false >/dev/null 2>&1 || true
no_leftovers() { [[ -z "$(K get namespace "$APPS_NS" services infrastructure "$RELEASE_NS" -o name --ignore-not-found)" ]]; }

wait_for 180 "namespaces of an earlier run to go away" no_leftovers

step "chart: helm lint, template, CRDs identical to crds/"
HELM lint "$CHART" >/dev/null || fail "helm lint"
HELM template warren "$CHART" -n "$RELEASE_NS" >"$WORK/rendered.yaml"
for kind in ServiceAccount ClusterRole ClusterRoleBinding Role RoleBinding Deployment Service; do
  grep -q "^kind: $kind$" "$WORK/rendered.yaml" || fail "helm template has no $kind"
done
grep -q 'readOnlyRootFilesystem: true' "$WORK/rendered.yaml" || fail "the pod is not read-only"
grep -q 'runAsNonRoot: true' "$WORK/rendered.yaml" || fail "the pod may run as root"
diff -r "$WARREN_ROOT/crds" "$CHART/crds" >/dev/null || fail "charts/warren-operator/crds differs from crds/"
HELM template warren "$CHART" -n "$RELEASE_NS" --set watchNamespace=team-a >"$WORK/rendered-namespaced.yaml"
grep -q '^kind: RoleBinding$' "$WORK/rendered-namespaced.yaml" || fail "namespaced RBAC"

step "helm install"
HELM install warren "$CHART" -n "$RELEASE_NS" --create-namespace --set replicas=1 --wait=false >/dev/null || fail "helm install"
wait_for 30 "the CRDs" K get crd brokerclusters.warren.dev brokerbindings.warren.dev countingservices.warren.dev offloadpipelines.warren.dev

step "operator outside the cluster, as the chart's ServiceAccount"
TOKEN="$(K create token warren-operator -n "$RELEASE_NS" --duration=1h)"
SERVER="$(K config view --raw -o jsonpath='{.clusters[0].cluster.server}')"
CA="$(K config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')"
cat >"$WORK/sa.kubeconfig" <<KC
apiVersion: v1
kind: Config
current-context: sa
clusters: [{name: local, cluster: {server: "$SERVER", certificate-authority-data: "$CA"}}]
users: [{name: sa, user: {token: "$TOKEN"}}]
contexts: [{name: sa, context: {cluster: local, user: sa}}]
KC
"$OPERATOR" --kubeconfig "$WORK/sa.kubeconfig" --leader-elect --leader-election-namespace "$RELEASE_NS" \
  --http-bind-address 127.0.0.1:18090 --log-format text >"$WORK/operator.log" 2>&1 &
OP_PID=$!
wait_for 60 "the operator's readiness" curl -sf http://127.0.0.1:18090/readyz

step "apply every example"
K create namespace "$APPS_NS" >/dev/null
for f in "$WARREN_ROOT"/examples/seed-00{0,1,3}-*/*.yaml; do K apply -n "$APPS_NS" -f "$f" >/dev/null || fail "apply $f"; done
K apply -f "$WARREN_ROOT/examples/seed-004-bind-existing-app/app.yaml" >/dev/null
K apply -f "$WARREN_ROOT/examples/seed-004-bind-existing-app/binding.yaml" >/dev/null
ready() { [[ "$(K get bc "$2" -n "$1" -o jsonpath='{.status.conditions[?(@.type=="AllReplicasReady")].status}')" == True ]]; }
wait_for 120 "counting Ready" ready "$APPS_NS" counting
wait_for 120 "offload Ready" ready "$APPS_NS" offload
wait_for 120 "mqtt Ready" ready "$APPS_NS" mqtt
wait_for 120 "shared Ready" ready infrastructure shared
bound() { [[ "$(K get bb hello-world -n services -o jsonpath='{.status.conditions[?(@.type=="Bound")].status}')" == True ]]; }
wait_for 60 "the binding" bound
cs_ready() { [[ "$(K get countingservices demo -n "$APPS_NS" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]; }
wait_for 60 "the counting service" cs_ready
K get secret rabbitmq-secret -n services >/dev/null || fail "credentials were not copied"
# The offload example's S3 and PostgreSQL stand-ins are kwok pods here: the pipeline must say so.
opl_reported() { [[ "$(K get opl orders -n "$APPS_NS" -o jsonpath='{.status.conditions[?(@.type=="StorageReady")].status}')" == False ]] &&
                 [[ -n "$(K get opl orders -n "$APPS_NS" -o jsonpath='{.status.conditions[?(@.type=="TopologyReady")].reason}')" ]]; }
wait_for 60 "the pipeline to report its unreachable storage and broker" opl_reported
K get brokerclusters,brokerbindings,countingservices,offloadpipelines -A

step "failover: the active pod of 'shared' goes NotReady"
ACTIVE="$(K get bc shared -n infrastructure -o jsonpath='{.status.activeNode}')"   # rabbit@<pod>.<svc>.<ns>
ACTIVE_POD="${ACTIVE#rabbit@}"; ACTIVE_POD="${ACTIVE_POD%%.*}"
APP_CONFIG="$(K get cm hello-world-config -n services -o jsonpath='{.data.config\.json}')"
[[ "$APP_CONFIG" == *"\"$ACTIVE_POD."* ]] || fail "the app does not point at $ACTIVE_POD"
NOW="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
K patch pod "$ACTIVE_POD" -n infrastructure --subresource=status --type=strategic \
  -p "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\",\"lastTransitionTime\":\"$NOW\"}]}}" >/dev/null
moved() { [[ "$(K get bc shared -n infrastructure -o jsonpath='{.status.activeNode}')" != "$ACTIVE" ]]; }
wait_for 60 "the active node to move off $ACTIVE_POD" moved
NEW_POD="$(K get bc shared -n infrastructure -o jsonpath='{.status.activeNode}')"; NEW_POD="${NEW_POD#rabbit@}"; NEW_POD="${NEW_POD%%.*}"
rerouted() { local config; config="$(K get cm hello-world-config -n services -o jsonpath='{.data.config\.json}')"; [[ "$config" == *"\"$NEW_POD."* ]]; }
wait_for 60 "the bound app's config to name $NEW_POD" rerouted
APP_ENV="$(K get cm hello-world-config -n services -o jsonpath='{.data.rabbitmq\.env}')"
grep -qx 'RABBITMQ_MAX_PENDING_EVENTS=1000' <<<"$APP_ENV" || fail "untouched env lines changed"
events() { [[ -n "$(K get events -n infrastructure --field-selector reason=Rerouted -o name)" ]]; }
wait_for 30 "a Rerouted Event" events
[[ "$(K get deploy hello-world -n services -o jsonpath='{.spec.template.metadata.annotations.warren\.dev/rerouted-to}')" == *"$NEW_POD"* ]] || fail "the app was not restarted"

step "helm upgrade with a changed value"
HELM upgrade warren "$CHART" -n "$RELEASE_NS" --set replicas=1 --set logLevel=debug --wait=false >/dev/null || fail "helm upgrade"
UPGRADED_ARGS="$(K get deploy warren-operator -n "$RELEASE_NS" -o jsonpath='{.spec.template.spec.containers[0].args}')"
[[ "$UPGRADED_ARGS" == *--log-level=debug* ]] || fail "upgrade not applied"

step "delete everything: nothing orphaned"
K delete -f "$WARREN_ROOT/examples/seed-004-bind-existing-app/binding.yaml" --wait=false >/dev/null
# The pipeline's finalizer must not wait for a broker, S3 or database that never answered.
K delete brokerclusters,countingservices,offloadpipelines --all -n "$APPS_NS" --wait=false >/dev/null
gone() { [[ -z "$(K get statefulsets,deployments,services,poddisruptionbudgets -n "$APPS_NS" -l warren.dev/cluster -o name)" ]] &&
         [[ -z "$(K get offloadpipelines,deployments,secrets -n "$APPS_NS" -l warren.dev/offload-pipeline -o name)" ]] &&
         [[ -z "$(K get offloadpipelines -n "$APPS_NS" -o name)" ]] &&
         [[ -z "$(K get deployments,secrets -n "$APPS_NS" -l warren.dev/counting -o name)" ]] &&
         [[ -z "$(K get secret rabbitmq-secret -n services -o name --ignore-not-found)" ]]; }
wait_for 120 "the garbage collector to remove every child" gone
# What stays is by design: the cookie and default-user Secrets of clusters whose volume claims are kept,
# and the record of the credentials last applied to their brokers, so a cluster created again finds
# its data's credentials. Nothing else.
KEPT="$(K get secrets -n "$APPS_NS" -l warren.dev/cluster -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.ownerReferences}{"\n"}{end}')"
while read -r name owners; do
  [[ -z "$name" ]] && continue
  [[ "$name" == *-erlang-cookie || "$name" == *-default-user || "$name" == *-default-user-applied ]] ||
    fail "Secret $name was left behind"
  [[ -z "$owners" ]] || fail "Secret $name is owned yet was not collected"
done <<<"$KEPT"
K delete secrets -n "$APPS_NS" -l warren.dev/cluster >/dev/null

step "operator log"
kill "$OP_PID"; wait "$OP_PID" || true; OP_PID=""
# The operator watches every namespace: one another test is still deleting refuses new objects with
# a 403 that is no permission problem.
if grep -E ' error |Forbidden|forbidden' "$WORK/operator.log" | grep -v 'resourceVersion too old' |
   grep -v 'because it is being terminated' >"$WORK/unexpected.log"; then
  cat "$WORK/unexpected.log" >&2
  fail "the operator logged errors (a missing permission shows as Forbidden)"
fi
grep -q 'became leader' "$WORK/operator.log" || fail "the operator never led"
step "passed"
