#!/usr/bin/env bash
# Builds warren's image from the Dockerfile with no container engine daemon
# and no registry, from Debian's packages only:
#   1. the base images the Dockerfile names (debian:bookworm, and
#      debian:bookworm-slim) are made here with mmdebstrap from Debian's
#      archive (a minbase bookworm; cached in ~/.cache/warren/images) and
#      imported into the local containers storage under those names;
#   2. buildah builds the Dockerfile with chroot isolation (no OCI runtime
#      needed) and tags the result warren-operator:<version> and
#      warren-counting:<version> (one image holds the operator and the
#      counting programs);
#   3. the image is saved as a docker-archive in ~/.cache/warren/images,
#      ready for `kind load image-archive` or `docker load`.
# With Docker, `docker build -t warren-operator:dev .` does the same from
# Docker Hub's Debian images (hack/e2e-kind.sh).
# Usage: hack/build-image.sh [TAG]   (TAG defaults to the project version)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$WARREN_ROOT"

TAG="${1:-$(sed -n 's/^project(warren VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)}"
IMAGES="$WARREN_CACHE/images"
mkdir -p "$IMAGES"
for tool in mmdebstrap buildah podman; do
  command -v "$tool" >/dev/null || die "$tool is missing: run hack/install-deps.sh"
done

base="$IMAGES/debian-bookworm-minbase.tar"
if [[ ! -s "$base" ]]; then
  log "making the Debian bookworm base image with mmdebstrap"
  mmdebstrap --quiet --variant=minbase --mode=root --format=tar bookworm "$base.partial" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main"
  mv "$base.partial" "$base"
fi
if ! podman image exists docker.io/library/debian:bookworm; then
  podman import --quiet "$base" docker.io/library/debian:bookworm >/dev/null
fi
podman image exists docker.io/library/debian:bookworm-slim ||
  podman tag docker.io/library/debian:bookworm docker.io/library/debian:bookworm-slim

log "building warren-operator:$TAG from the Dockerfile (buildah, chroot isolation)"
buildah bud --quiet --isolation chroot --network host --pull=never --layers \
  -f Dockerfile -t "localhost/warren-operator:$TAG" -t "localhost/warren-counting:$TAG" .
rm -f "$IMAGES/warren-$TAG.tar"
podman save --quiet --multi-image-archive --format docker-archive -o "$IMAGES/warren-$TAG.tar" \
  "localhost/warren-operator:$TAG" "localhost/warren-counting:$TAG"
log "image: localhost/warren-operator:$TAG (also warren-counting:$TAG), archive $IMAGES/warren-$TAG.tar"
