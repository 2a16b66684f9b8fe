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
# Installed under /opt/warren: bin/ and lib/warren/ (the operator's module with the libcurl
# and libpq clients, found through the run path $ORIGIN/../lib/warren).
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DWARREN_BUILD_TESTS=OFF \
 && cmake --build /build \
 && cmake --install /build --prefix /opt/warren --strip

FROM debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libcpprest2.10 libyaml-cpp0.7 libssl3 libpaho-mqttpp3-1 libpaho-mqtt1.3 librabbitmq4 ca-certificates \
      libcurl4 libpqxx-6.4 libpugixml1v5 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/warren/bin/ /usr/local/bin/
COPY --from=build /opt/warren/lib/warren/ /usr/local/lib/warren/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/warren-operator"]
