#!/usr/bin/env bash
# Builds, once, the images the real node (hack/real-node.sh) runs, without a
# registry or a container engine daemon, and prints the paths of their
# docker-archives (imported into the node's containerd):
#   localhost/pause:warren          the pod sandbox: hack/tools/pause/pause.c,
#                                   built statically, one file in the image;
#   localhost/rabbitmq:4.0.5-warren Debian trixie's rabbitmq-server 4.0.5 (the
#                                   root filesystem of hack/build-rabbitmq-rootfs.sh)
#                                   as the StatefulSet warren renders expects it:
#                                   user rabbitmq with uid/gid 999, HOME
#                                   /var/lib/rabbitmq, logs to stdout, the
#                                   management, prometheus and MQTT plugins on;
#   localhost/coredns:warren        CoreDNS (the static binary hack/build-tools.sh
#                                   builds from the Go module proxy), one file in
#                                   the image, user 65532.
# Cached in $WARREN_CACHE/images; rebuilt when this script, pause.c, the
# RabbitMQ version or the CoreDNS binary changes.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

IMAGES="$WARREN_CACHE/images"
PAUSE_ARCHIVE="$IMAGES/pause-warren.tar"
RABBITMQ_IMAGE="localhost/rabbitmq:$RABBITMQ_ROOTFS_VERSION-warren"
RABBITMQ_ARCHIVE="$IMAGES/rabbitmq-$RABBITMQ_ROOTFS_VERSION-warren.tar"
COREDNS_ARCHIVE="$IMAGES/coredns-warren.tar"
COREDNS_BIN="$WARREN_BIN/coredns"
STAMP="$IMAGES/.node-images.stamp"
[[ -x "$COREDNS_BIN" ]] || die "$COREDNS_BIN is missing: run hack/build-tools.sh"
pin="$RABBITMQ_ROOTFS_VERSION $(cat "${BASH_SOURCE[0]}" "$WARREN_ROOT/hack/tools/pause/pause.c" | sha256sum | cut -c1-16) $(stat -c %s-%Y "$COREDNS_BIN")"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$pin" && -s "$PAUSE_ARCHIVE" && -s "$RABBITMQ_ARCHIVE" && -s "$COREDNS_ARCHIVE" ]]; then
  echo "$PAUSE_ARCHIVE $RABBITMQ_ARCHIVE $COREDNS_ARCHIVE"
  exit 0
fi
for tool in gcc podman; do command -v "$tool" >/dev/null || die "$tool is missing: run hack/install-deps.sh"; done
[[ $(id -u) == 0 ]] || die "building the node images needs root (the RabbitMQ root filesystem)"
mkdir -p "$IMAGES"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

log "building localhost/pause:warren"
mkdir -p "$work/pause"
gcc -Os -static -o "$work/pause/pause" "$WARREN_ROOT/hack/tools/pause/pause.c"
strip "$work/pause/pause"
tar -C "$work/pause" -c pause | podman import --quiet \
  --change 'ENTRYPOINT ["/pause"]' --change 'USER 65535:65535' - localhost/pause:warren >/dev/null
podman save --quiet --format docker-archive -o "$PAUSE_ARCHIVE.partial" localhost/pause:warren
mv "$PAUSE_ARCHIVE.partial" "$PAUSE_ARCHIVE"

log "building localhost/coredns:warren"
mkdir -p "$work/coredns"
cp "$COREDNS_BIN" "$work/coredns/coredns"
tar -C "$work/coredns" -c coredns | podman import --quiet \
  --change 'ENTRYPOINT ["/coredns"]' --change 'USER 65532:65532' - localhost/coredns:warren >/dev/null
podman save --quiet --format docker-archive -o "$COREDNS_ARCHIVE.partial" localhost/coredns:warren
mv "$COREDNS_ARCHIVE.partial" "$COREDNS_ARCHIVE"

log "building $RABBITMQ_IMAGE from Debian trixie's rabbitmq-server"
rootfs="$("$WARREN_ROOT/hack/build-rabbitmq-rootfs.sh")"
cp -a "$rootfs" "$work/rabbitmq"
chroot "$work/rabbitmq" sh -c '
  set -e
  groupmod -g 999 rabbitmq
  usermod -u 999 -g 999 rabbitmq
  mkdir -p /var/lib/rabbitmq /var/log/rabbitmq /etc/rabbitmq
  chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /var/log/rabbitmq /etc/rabbitmq
  echo "[rabbitmq_management,rabbitmq_prometheus,rabbitmq_mqtt]." > /etc/rabbitmq/enabled_plugins
  rmdir /warren-node 2>/dev/null || true
  rm -f /.ready'
tar -C "$work/rabbitmq" -c . | podman import --quiet \
  --change 'USER 999:999' --change 'ENV HOME=/var/lib/rabbitmq' --change 'ENV RABBITMQ_LOGS=-' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/usr/lib/rabbitmq/bin/rabbitmq-server"]' - "$RABBITMQ_IMAGE" >/dev/null
podman save --quiet --format docker-archive -o "$RABBITMQ_ARCHIVE.partial" "$RABBITMQ_IMAGE"
mv "$RABBITMQ_ARCHIVE.partial" "$RABBITMQ_ARCHIVE"
printf '%s' "$pin" >"$STAMP"
log "node images ready: $PAUSE_ARCHIVE $RABBITMQ_ARCHIVE $COREDNS_ARCHIVE"
echo "$PAUSE_ARCHIVE $RABBITMQ_ARCHIVE $COREDNS_ARCHIVE"
