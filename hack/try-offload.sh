#!/usr/bin/env bash
# Seed 001 on the local control plane, for real: `kubectl apply` of
# examples/seed-001-offload/ (namespace seed-001) with what kwok cannot run
# served on loopback instead: versitygw for S3, PostgreSQL 15 for the ledger,
# and a RabbitMQ 4.0.5 node (Debian trixie's, from the root filesystem the
# tests use) with the management plugin and the default user warren created.
# The example's names (offload-bus/offload-s3/offload-db.seed-001.svc) resolve
# to a loopback address of their own through an /etc/hosts bind-mounted in a
# private mount namespace for warren and the programs only; the host's
# /etc/hosts is not touched. warren runs in the foreground of this script,
# the pipeline becomes Ready, and seed 001's `make producer MSG_SIZE=1MB
# COUNT=5 VERIFY=1` runs with warren's producer, two recipients and the
# coordinator from the Secrets warren rendered (as their pods would: the
# pods themselves are kwok's). Everything started here stops on exit
# (the local control plane stays up: hack/local-cluster.sh down).
# Needs root (chroot, mount namespaces, the postgres user).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$WARREN_ROOT"
[[ $EUID -eq 0 ]] || die "needs root (chroot and mount namespaces)"

ADDRESS="${WARREN_OFFLOAD_ADDRESS:-127.0.77.1}"
NS=seed-001
EXAMPLE=examples/seed-001-offload
WORK="${TMPDIR:-/tmp}/warren-try-offload"  # readable by the postgres user

hack/install-deps.sh
[[ -x /usr/local/go/bin/go ]] && export PATH="/usr/local/go/bin:$PATH"
hack/build-tools.sh
hack/build-rabbitmq-rootfs.sh
hack/build.sh
BUILD="${WARREN_BUILD_DIR:-build}/operator"
ROOTFS="$WARREN_CACHE/rootfs/rabbitmq-$RABBITMQ_ROOTFS_VERSION"

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [[ -d "$WORK/pg/data" ]] && su postgres -s /bin/sh -c "/usr/lib/postgresql/15/bin/pg_ctl -D $WORK/pg/data -m fast -w stop" >/dev/null 2>&1 || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
for pidfile in "$WORK"/*.pid; do [[ -f "$pidfile" ]] && kill "$(cat "$pidfile")" 2>/dev/null || true; done
[[ -d "$WORK/pg/data" ]] && su postgres -s /bin/sh -c "/usr/lib/postgresql/15/bin/pg_ctl -D $WORK/pg/data -m immediate stop" >/dev/null 2>&1 || true
rm -rf "$WORK"
mkdir -p "$WORK" && chmod 755 "$WORK"
background() {  # background NAME COMMAND...: output to $WORK/NAME.log
  local name="$1"; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  echo $! >"$WORK/$name.pid"
}
wait_until() {  # wait_until SECONDS WHAT COMMAND...
  local deadline=$((SECONDS + $1)) what="$2"; shift 2
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || die "timed out waiting for $what (logs in $WORK)"
    sleep 1
  done
}
# Runs a command with the example's names resolving to $ADDRESS.
printf '127.0.0.1 localhost\n%s offload-bus.%s.svc offload-s3.%s.svc offload-db.%s.svc\n' \
  "$ADDRESS" "$NS" "$NS" "$NS" >"$WORK/hosts"
# An array, not a function, so that a backgrounded command's pid is the program's own.
WITH_HOSTS=(unshare --mount --propagation private /bin/sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$WORK/hosts")

hack/local-cluster.sh up
export KUBECONFIG="$(hack/local-cluster.sh kubeconfig)"
K() { "$WARREN_BIN/kubectl" "$@"; }
K apply --server-side --field-manager warren-install -f crds/ >/dev/null
K wait --for condition=established --timeout 60s -f crds/ >/dev/null
K create namespace "$NS" --dry-run=client -o yaml | K apply -f - >/dev/null

log "warren (logs: $WORK/operator.log)"
background operator "${WITH_HOSTS[@]}" "$BUILD/warren-operator" --namespace "$NS" --http-bind-address 127.0.0.1:18091
# A pipeline from an earlier run goes first (its finalizer needs the operator), so this run starts afresh.
K delete offloadpipelines --all -n "$NS" --timeout 60s >/dev/null
K apply -n "$NS" -f "$EXAMPLE/broker-cluster.yaml" -f "$EXAMPLE/storage.yaml" >/dev/null
secret() { K get secret "$1" -n "$NS" -o jsonpath="{.data.$2}" | base64 -d; }
wait_until 60 "the default-user Secret" secret offload-bus-default-user password

log "S3 (versitygw $VERSITYGW_VERSION) on $ADDRESS:7070"
mkdir -p "$WORK/s3"
background s3 env ROOT_ACCESS_KEY="$(secret offload-s3-credentials AWS_ACCESS_KEY_ID)" \
  ROOT_SECRET_KEY="$(secret offload-s3-credentials AWS_SECRET_ACCESS_KEY)" \
  "$WARREN_BIN/versitygw" --port "$ADDRESS:7070" --quiet posix "$WORK/s3"

log "PostgreSQL 15 on $ADDRESS:5432"
mkdir -p "$WORK/pg" && chown postgres:postgres "$WORK/pg"
su postgres -s /bin/sh -c "/usr/lib/postgresql/15/bin/initdb -D $WORK/pg/data -U ledger --auth=trust --no-sync -E UTF8 --locale=C.UTF-8" >"$WORK/pg-setup.log"
su postgres -s /bin/sh -c "/usr/lib/postgresql/15/bin/pg_ctl -D $WORK/pg/data -l $WORK/pg/pg.log -w -o '-c listen_addresses=$ADDRESS -p 5432 -k $WORK/pg' start" >>"$WORK/pg-setup.log"
su postgres -s /bin/sh -c "/usr/lib/postgresql/15/bin/createdb -h $ADDRESS -U ledger ledger"

log "RabbitMQ $RABBITMQ_ROOTFS_VERSION on $ADDRESS:5672 (management :15672)"
NODE="$WORK/rabbit"
mkdir -p "$NODE"/{home,mnesia,log}
cat >"$NODE/rabbitmq.conf" <<CONF
listeners.tcp.default = $ADDRESS:5672
management.tcp.ip = $ADDRESS
management.tcp.port = 15672
default_user = $(secret offload-bus-default-user username)
default_pass = $(secret offload-bus-default-user password)
CONF
chmod 600 "$NODE/rabbitmq.conf"
echo '[rabbitmq_management].' >"$NODE/enabled_plugins"
background epmd /usr/bin/epmd -port 14369 -address 127.0.0.1
background rabbitmq unshare --mount --propagation private /bin/sh -c \
  "mount --bind /proc $ROOTFS/proc && mount --bind /sys $ROOTFS/sys && mount --bind $NODE $ROOTFS/warren-node && exec chroot $ROOTFS \"\$@\"" node \
  /usr/bin/env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/warren-node/home RABBITMQ_NODENAME=warren-try-offload@localhost \
  RABBITMQ_CONFIG_FILE=/warren-node/rabbitmq RABBITMQ_CONF_ENV_FILE=/dev/null \
  RABBITMQ_ENABLED_PLUGINS_FILE=/warren-node/enabled_plugins RABBITMQ_MNESIA_BASE=/warren-node/mnesia \
  RABBITMQ_LOG_BASE=/warren-node/log RABBITMQ_DIST_PORT=14672 ERL_EPMD_PORT=14369 ERL_EPMD_ADDRESS=127.0.0.1 \
  /usr/lib/rabbitmq/bin/rabbitmq-server
wait_until 120 "RabbitMQ's management API" curl -sf -o /dev/null "http://$ADDRESS:15672/"

log "the pipeline"
K apply -n "$NS" -f "$EXAMPLE/pipeline.yaml" >/dev/null
ready() { [[ "$(K get opl orders -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]; }
wait_until 120 "the pipeline to be Ready" ready
K get opl orders -n "$NS" -o wide

# The programs as their pods would run them: environment from the Secrets warren rendered.
secret_env() {  # secret_env NAME: NAME=VALUE lines of a Secret's env-named keys
  K get secret "$1" -n "$NS" -o json |
    python3 -c 'import base64,json,re,sys; d=json.load(sys.stdin).get("data",{}); [print(k+"="+base64.b64decode(v).decode()) for k,v in d.items() if re.fullmatch("[A-Z_][A-Z0-9_]*",k)]'
}
mapfile -t COORDINATOR_ENV < <(secret_env orders-coordinator-config)
mapfile -t BINDING_ENV < <(secret_env orders-binding)
SCHEMA="$(K get opl orders -n "$NS" -o jsonpath='{.status.ledgerSchema}')"
background coordinator "${WITH_HOSTS[@]}" env "${COORDINATOR_ENV[@]}" "$BUILD/warren-offload-coordinator" \
  --database-schema "$SCHEMA" --metrics-address 127.0.0.1:19464 --rescan-interval 1s
for recipient in billing archive; do
  mkdir -p "$WORK/received/$recipient"
  background "consumer-$recipient" "${WITH_HOSTS[@]}" env "${BINDING_ENV[@]}" "$BUILD/warren-offload-consumer" \
    --recipient "$recipient" --output-dir "$WORK/received/$recipient"
done
log "seed 001: make producer MSG_SIZE=1MB COUNT=5 VERIFY=1"
"${WITH_HOSTS[@]}" env "${BINDING_ENV[@]}" "$BUILD/warren-offload-producer" --size 1MB --count 5 --verify
deleted() { [[ "$(K get opl orders -n "$NS" -o jsonpath='{.status.ledger.objectsDeleted}')" == 5 ]]; }
wait_until 120 "the ledger to count 5 deletions" deleted
K get opl orders -n "$NS" -o wide
log "each recipient received: billing $(ls "$WORK/received/billing" | wc -l), archive $(ls "$WORK/received/archive" | wc -l); every object deleted once all confirmed"
if [[ "${WARREN_TRY_KEEP:-}" == 1 ]]; then
  log "running until Ctrl-C (WARREN_TRY_KEEP=1): kubectl --kubeconfig $KUBECONFIG get opl -n $NS -w"
  wait
fi
