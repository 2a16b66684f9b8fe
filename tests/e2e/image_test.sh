#!/usr/bin/env bash
# The container image, for real, on a machine without a container engine:
# hack/build-image.sh builds the Dockerfile with buildah (chroot isolation)
# on Debian bases made with mmdebstrap. Then this test checks the image's
# config (non-root user, entrypoint), that every binary in it finds its
# shared libraries inside the image, and runs the operator from the image's
# own root filesystem (chroot, as uid 65532, the image's user) against the
# local control plane until /readyz answers. No OCI runtime starts a
# container here (the sandbox lacks CAP_SYS_RESOURCE, which crun needs), so
# namespaces and cgroups of a real container are not exercised.
# Needs root, buildah, podman and mmdebstrap (hack/install-deps.sh), and
# WARREN_TEST_KUBECONFIG (hack/test.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TAG=e2e-test
IMAGE="localhost/warren-operator:$TAG"
fail() { echo "FAIL: $*" >&2; exit 1; }
# A test that cannot run fails, unless WARREN_ALLOW_SKIP names it (CI never sets it).
if [[ $(id -u) != 0 ]]; then
  [[ ",${WARREN_ALLOW_SKIP:-}," == *",image,"* ]] && { echo "skipped (WARREN_ALLOW_SKIP): needs root (chroot)"; exit 0; }
  echo "FAILED: needs root (chroot); set WARREN_ALLOW_SKIP=image to skip deliberately" >&2
  exit 1
fi
[[ -n "${WARREN_TEST_KUBECONFIG:-}" ]] || fail "WARREN_TEST_KUBECONFIG is not set: run through hack/test.sh"
KUBECTL="${WARREN_KUBECTL:-kubectl}"
NS="warren-image-test-$RANDOM"

started=$(date +%s)
"$ROOT/hack/build-image.sh" "$TAG"
echo "image built in $(($(date +%s) - started)) s"

user=$(podman image inspect "$IMAGE" --format '{{.Config.User}}')
entrypoint=$(podman image inspect "$IMAGE" --format '{{json .Config.Entrypoint}}')
[[ "$user" == "65532:65532" ]] || fail "image user is '$user', want 65532:65532"
[[ "$entrypoint" == '["/usr/local/bin/warren-operator"]' ]] || fail "entrypoint is $entrypoint"
size=$(podman image inspect "$IMAGE" --format '{{.Size}}')
echo "image $IMAGE: user $user, entrypoint $entrypoint, $((size / 1024 / 1024)) MiB"

container=$(buildah from --pull=never "$IMAGE")
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  "$KUBECTL" --kubeconfig "$WARREN_TEST_KUBECONFIG" delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
  buildah umount "$container" >/dev/null 2>&1 || true
  buildah rm "$container" >/dev/null 2>&1 || true
}
trap cleanup EXIT
rootfs=$(buildah mount "$container")

for binary in warren-operator warren-counting-service warren-counting-client \
  warren-offload-producer warren-offload-consumer warren-offload-coordinator; do
  [[ -x "$rootfs/usr/local/bin/$binary" ]] || fail "$binary is not in the image"
  # Output is captured before grep reads it: with pipefail, `producer | grep -q` fails whenever
  # grep exits before the producer has written everything (curl: "(23) Failed writing body").
  libraries=$(chroot "$rootfs" ldd "/usr/local/bin/$binary")
  if grep "not found" <<<"$libraries" >&2; then fail "$binary misses shared libraries in the image"; fi
done
# The operator's module with the libcurl and libpq clients: present, complete, and found through
# the operator's run path (which names no build directory).
module="$rootfs/usr/local/lib/warren/warren-backend-clients.so"
[[ -f "$module" ]] || fail "warren-backend-clients.so is not in the image"
libraries=$(chroot "$rootfs" ldd /usr/local/lib/warren/warren-backend-clients.so)
if grep "not found" <<<"$libraries" >&2; then fail "warren-backend-clients.so misses shared libraries in the image"; fi
runpath=$(readelf -d "$rootfs/usr/local/bin/warren-operator" | grep -E 'RUNPATH|RPATH') || fail "the operator has no run path"
[[ "$runpath" == *'[$ORIGIN/../lib/warren]'* ]] || fail "the operator's run path is not \$ORIGIN/../lib/warren: $runpath"
if chroot "$rootfs" ldd /usr/local/bin/warren-operator | grep -E 'libcurl|libpq'; then
  fail "the operator links libcurl or libpq itself"
fi
# The counting programs load and refuse a missing config with a clear error.
if chroot --userspec=65532:65532 "$rootfs" /usr/local/bin/warren-counting-client /nonexistent.json 2>"$rootfs/tmp/client.err"; then
  fail "the counting client started without a config"
fi
grep -q "cannot read /nonexistent.json" "$rootfs/tmp/client.err" || fail "unexpected error: $(cat "$rootfs/tmp/client.err")"
# So do the offload programs, naming what is missing.
if chroot --userspec=65532:65532 "$rootfs" /usr/bin/env -i /usr/local/bin/warren-offload-coordinator \
    2>"$rootfs/tmp/coordinator.err"; then
  fail "the offload coordinator started without a configuration"
fi
grep -q -- "--pipeline: required" "$rootfs/tmp/coordinator.err" || fail "unexpected error: $(cat "$rootfs/tmp/coordinator.err")"

# The operator, from the image, as the image's user, against the local control plane.
"$KUBECTL" --kubeconfig "$WARREN_TEST_KUBECONFIG" create namespace "$NS" >/dev/null
"$KUBECTL" --kubeconfig "$WARREN_TEST_KUBECONFIG" config view --raw --flatten --minify > "$rootfs/tmp/kubeconfig"
chmod 0644 "$rootfs/tmp/kubeconfig"
port=$((18000 + RANDOM % 1000))
chroot --userspec=65532:65532 "$rootfs" /usr/local/bin/warren-operator --kubeconfig /tmp/kubeconfig \
  --namespace "$NS" --http-bind-address "127.0.0.1:$port" >"$rootfs/tmp/operator.log" 2>&1 &
pid=$!
ready=0
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
((ready)) || { cat "$rootfs/tmp/operator.log" >&2; fail "the operator from the image never became ready"; }
metrics=$(curl -fsS "http://127.0.0.1:$port/metrics") || fail "GET /metrics failed"
grep -q "^warren_" <<<"$metrics" || fail "no warren metrics"
kill "$pid"; wait "$pid" || fail "the operator did not stop cleanly on SIGTERM"
pid=""
if grep -E '^[0-9T:.-]+Z error ' "$rootfs/tmp/operator.log"; then fail "error lines in the operator's log"; fi
echo "the operator from the image ran as 65532:65532 against the local control plane and stopped cleanly"
