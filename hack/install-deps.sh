#!/usr/bin/env bash
# Installs, idempotently, the Debian packages warren builds and tests with.
# Needs root (or sudo) only when something is missing. Go (>= 1.24) is
# expected on the machine; it builds the local control plane.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

PACKAGES=(
  g++ make cmake ninja-build pkg-config git curl openssl ca-certificates
  libcpprest-dev libyaml-cpp-dev nlohmann-json3-dev libssl-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev libpaho-mqttpp-dev libpaho-mqtt-dev librabbitmq-dev
  rabbitmq-server iproute2
  libcurl4-openssl-dev libpqxx-dev libpugixml-dev postgresql-15 python3-venv
  mmdebstrap buildah podman
  containerd runc containernetworking-plugins iptables
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""
  [[ $(id -u) == 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  # RUNLEVEL=1 keeps Debian's rabbitmq-server and postgresql packages from
  # starting system servers: the tests start their own, on loopback.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v go >/dev/null; then
  [[ -x /usr/local/go/bin/go ]] && export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null || die "Go >= 1.24 is required to build the local control plane (https://go.dev/doc/install)"
go_minor="$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')"
[[ -n "$go_minor" && "$go_minor" -ge 24 ]] || die "Go >= 1.24 is required, found $(go env GOVERSION)"
