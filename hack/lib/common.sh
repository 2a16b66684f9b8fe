#!/usr/bin/env bash
# Shared settings for warren's hack/ scripts: pinned versions and cache paths.
# Sourced, never executed.

WARREN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WARREN_CACHE="${WARREN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/warren}"

KUBE_VERSION="v1.32.5"
KWOK_VERSION="v0.8.0"
HELM_VERSION="v3.17.4"
VERSITYGW_VERSION="v1.8.0"
COREDNS_VERSION="v1.15.0"
# RabbitMQ of the data-plane tests: Debian trixie's package, in a root filesystem.
RABBITMQ_ROOTFS_VERSION="4.0.5"

WARREN_BIN="$WARREN_CACHE/bin"
# State of the local control plane (certificates, etcd data, logs, pids).
WARREN_CLUSTER_DIR="${WARREN_CLUSTER_DIR:-$WARREN_CACHE/cluster}"

# The real node (hack/real-node.sh): its pods' bridge and address range. Not 10.244.0.0/16, where kwok
# hands out its simulated pods' addresses.
REAL_NODE_BRIDGE="wrn0"
REAL_NODE_SUBNET="10.245.0.0/24"
REAL_NODE_GATEWAY="10.245.0.1"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
