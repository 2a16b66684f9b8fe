# Entry points; the work is done by the scripts in hack/.
.PHONY: run test build bench bench-peer cluster-up cluster-down clean

run:          ## run the operator (starts the local control plane if no cluster is configured)
	hack/run.sh

test:         ## build everything and run unit + integration tests on the local control plane
	hack/test.sh

build:
	hack/install-deps.sh && hack/build.sh

bench: build  ## run the benchmarks (the runtime ones on the local control plane)
	hack/bench.sh

bench-peer: build  ## warren and rabbitmq/cluster-operator v2.13.0 side by side (N=100; hack/bench.sh --peer N IDLE ROUNDS)
	hack/bench.sh --peer

cluster-up:
	hack/local-cluster.sh up

cluster-down:
	hack/local-cluster.sh down

clean:
	rm -rf build
