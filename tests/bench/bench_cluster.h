// Shared set-up of the benchmarks that run against the local control plane.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "kube/client.h"
#include "kube/client_config.h"

namespace warren::bench {

// An admin client for $WARREN_TEST_KUBECONFIG with `options`; exits when the
// kubeconfig is missing or unusable.
inline std::shared_ptr<kube::Client> benchClient(const kube::ClientOptions& options) {
  const char* kubeconfig = std::getenv("WARREN_TEST_KUBECONFIG");
  if (kubeconfig == nullptr) {
    std::cerr << "set WARREN_TEST_KUBECONFIG (hack/local-cluster.sh kubeconfig)\n";
    std::exit(2);
  }
  auto config = kube::loadKubeconfig({kubeconfig});
  if (!config) {
    std::cerr << config.error().message << "\n";
    std::exit(2);
  }
  auto client = kube::Client::fromConfig(*config, options);
  if (!client) {
    std::cerr << client.error().message << "\n";
    std::exit(2);
  }
  return *client;
}

// Without a client-side rate limit: the benchmarks measure warren, not the limiter.
inline std::shared_ptr<kube::Client> unlimitedClient() {
  kube::ClientOptions options;
  options.qps = -1;
  return benchClient(options);
}

// Creates a fresh namespace "<prefix>-<pid>" and returns its name.
inline std::string createNamespace(kube::Client& client, const std::string& prefix) {
  const std::string ns = prefix + "-" + std::to_string(getpid());
  (void)client.create(kube::resources::namespaces(), "",
                      {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}}, {});
  return ns;
}

}  // namespace warren::bench
