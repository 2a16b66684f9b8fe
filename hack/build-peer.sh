#!/usr/bin/env bash
# Builds the operator warren is measured against: rabbitmq/cluster-operator
# v2.13.0, from the Go module proxy, cached in $WARREN_BIN (with its CRDs).
# The Go checksum database does not know that module, so this build, and
# only this one, runs with GONOSUMDB=github.com/rabbitmq (the module's own
# go.sum still pins every dependency). `go install module@version` is refused
# (the proxy does not list the module's versions), so the exact version is
# downloaded through a throwaway go.mod and built from the module cache.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
PEER_VERSION="v2.13.0"
OUT="$WARREN_BIN/cluster-operator-$PEER_VERSION"
[[ -x "$OUT" && -d "$OUT.crds" ]] && { log "cluster-operator $PEER_VERSION ready in $OUT"; exit 0; }
[[ -x /usr/local/go/bin/go ]] && export PATH="/usr/local/go/bin:$PATH"
command -v go >/dev/null || die "go is missing (hack/build-tools.sh installs it)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/go.mod" <<MOD
module warren.dev/bench-peer

go 1.24

require github.com/rabbitmq/cluster-operator/v2 $PEER_VERSION
MOD
log "downloading cluster-operator $PEER_VERSION (GONOSUMDB=github.com/rabbitmq for this module only)"
(cd "$work" && GONOSUMDB=github.com/rabbitmq GOFLAGS=-mod=mod go mod download github.com/rabbitmq/cluster-operator/v2)
src="$(go env GOMODCACHE)/github.com/rabbitmq/cluster-operator/v2@$PEER_VERSION"
cp -r "$src" "$work/src" && chmod -R u+w "$work/src"
log "building cluster-operator $PEER_VERSION (about 2 minutes)"
(cd "$work/src" && GONOSUMDB=github.com/rabbitmq CGO_ENABLED=0 go build -trimpath -o "$OUT" .)
rm -rf "$OUT.crds" && cp -r "$work/src/config/crd/bases" "$OUT.crds"
log "cluster-operator $PEER_VERSION ready in $OUT"
