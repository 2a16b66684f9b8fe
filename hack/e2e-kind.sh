#!/usr/bin/env bash
# For users with Docker and kind: builds the image, loads it into a kind
# cluster, installs the chart and checks that every example becomes Ready.
# NOT exercised on machines without a Docker engine (warren's own CI has
# none); the same path is covered there by tests/e2e/run.sh on the local
# control plane, with the operator run outside the cluster as the chart's
# ServiceAccount.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$WARREN_ROOT"
command -v docker >/dev/null || die "docker is required"
command -v kind >/dev/null || die "kind is required (https://kind.sigs.k8s.io)"
command -v helm >/dev/null || die "helm is required"
CLUSTER="${KIND_CLUSTER:-warren}"
IMAGE="warren-operator:dev"

kind get clusters | grep -qx "$CLUSTER" || kind create cluster --name "$CLUSTER"
docker build -t "$IMAGE" .
# The same image runs the counting programs (CountingService's default image).
docker tag "$IMAGE" warren-counting:0.1.0
kind load docker-image "$IMAGE" warren-counting:0.1.0 --name "$CLUSTER"
helm upgrade --install warren charts/warren-operator -n warren-system --create-namespace \
  --set image.repository=warren-operator --set image.tag=dev --wait
kubectl create namespace warren-e2e --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -n warren-e2e -f examples/seed-000-counting/broker-cluster.yaml -f examples/seed-001-quorum/broker-cluster.yaml
for bc in counting offload; do
  kubectl wait -n warren-e2e "brokercluster/$bc" --for=condition=AllReplicasReady --timeout=10m
done
kubectl get bc,bb,csvc -A
log "kind e2e passed"
