#!/usr/bin/env bash
# Builds, once, a Debian trixie root filesystem with RabbitMQ 4.0.5 (trixie's
# rabbitmq-server, on Erlang/OTP 27) for the data-plane tests, which start
# their broker nodes chrooted into it. trixie is used only here, never in the
# host's apt sources (the host stays bookworm). Cached in
# $WARREN_CACHE/rootfs/rabbitmq-<version>; prints its path.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

ROOTFS="$WARREN_CACHE/rootfs/rabbitmq-$RABBITMQ_ROOTFS_VERSION"
if [[ -f "$ROOTFS/.ready" ]]; then
  echo "$ROOTFS"
  exit 0
fi
command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (hack/install-deps.sh)"
[[ $(id -u) == 0 ]] || die "building the RabbitMQ root filesystem needs root (mmdebstrap --mode=root)"
log "building a Debian trixie root filesystem with rabbitmq-server $RABBITMQ_ROOTFS_VERSION (about a minute)"
rm -rf "$ROOTFS.partial"
mkdir -p "$(dirname "$ROOTFS")"
# Check-Valid-Until: this machine's mirror serves archived Release files.
mmdebstrap --quiet --variant=minbase --mode=root --include=rabbitmq-server \
  --aptopt='Acquire::Check-Valid-Until "false"' \
  --customize-hook='chroot "$1" sh -c "rm -rf /var/lib/apt/lists/* /var/cache/apt/*"' \
  trixie "$ROOTFS.partial" http://deb.debian.org/debian >&2
version=$(chroot "$ROOTFS.partial" dpkg-query -W -f='${Version}' rabbitmq-server)
[[ "$version" == "$RABBITMQ_ROOTFS_VERSION"* ]] ||
  die "trixie's rabbitmq-server is $version, expected $RABBITMQ_ROOTFS_VERSION (update RABBITMQ_ROOTFS_VERSION)"
mkdir -p "$ROOTFS.partial/warren-node"   # where each node's own directory is bind-mounted
touch "$ROOTFS.partial/.ready"
rm -rf "$ROOTFS"
mv "$ROOTFS.partial" "$ROOTFS"
log "RabbitMQ $version root filesystem ready in $ROOTFS"
echo "$ROOTFS"
