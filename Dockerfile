# warren-operator, the counting programs and the offload programs, built from Debian bookworm's
# packages and run as a non-root user on a read-only root filesystem.
# Built and tested without a daemon by hack/build-image.sh (buildah); see README.
FROM debian:bookworm AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config libcpprest-dev libyaml-cpp-dev nlohmann-json3-dev libssl-dev \
      libpaho-mqttpp-dev libpaho-mqtt-dev librabbitmq-dev \
      libcurl4-openssl-dev libpqxx-dev libpugixml-dev zlib1g-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY operator/ operator/
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DWARREN_BUILD_TESTS=OFF \
 && cmake --build /build --target warren-operator warren-counting-service warren-counting-client \
      warren-offload-producer warren-offload-consumer warren-offload-coordinator

FROM debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libcpprest2.10 libyaml-cpp0.7 libssl3 libpaho-mqttpp3-1 libpaho-mqtt1.3 librabbitmq4 ca-certificates \
      libcurl4 libpqxx-6.4 libpugixml1v5 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/operator/warren-operator /build/operator/warren-counting-service \
     /build/operator/warren-counting-client /build/operator/warren-offload-producer \
     /build/operator/warren-offload-consumer /build/operator/warren-offload-coordinator /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/warren-operator"]
