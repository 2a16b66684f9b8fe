// warren-operator: loads the cluster configuration, waits for the API
// server, reports which warren CRDs are installed, then runs the manager
// (health, readiness and metrics endpoints; leader election; controllers)
// until SIGTERM/SIGINT.
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "app/options.h"
#include "app/shutdown.h"
#include "builders/cache_sample.h"
#include "common/backoff.h"
#include "common/log.h"
#include "kube/client.h"
#include "kube/client_config.h"
#include "kube/cpprest_transport.h"
#include "controllers/broker_binding_controller.h"
#include "controllers/broker_cluster_controller.h"
#include "controllers/counting_service_controller.h"
#include "controllers/offload_pipeline_controller.h"
#include "runtime/compact_bytes.h"
#include "runtime/manager.h"

namespace {

constexpr int kExitUsage = 2;
constexpr const char* kVersion = "0.1.0";

// The custom resources warren serves.
const std::vector<std::string>& warrenCrdNames() {
  static const std::vector<std::string> names = {
      "brokerclusters.warren.dev", "brokerbindings.warren.dev", "countingservices.warren.dev",
      "offloadpipelines.warren.dev"};
  return names;
}

// Retries GET /version with backoff until it answers or shutdown is asked.
std::optional<nlohmann::json> waitForApiServer(warren::kube::Client& client,
                                               const std::string& server) {
  using warren::log::Field;
  warren::Backoff backoff({std::chrono::milliseconds(500), std::chrono::milliseconds(30000), 2.0,
                           0.2, std::chrono::milliseconds(120000)});
  auto& shutdown = warren::app::ShutdownSignal::instance();
  for (int attempt = 1; !shutdown.requested(); ++attempt) {
    auto version = client.serverVersion();
    if (version) return *version;
    const auto delay = backoff.next();
    warren::log::warn("API server not reachable, retrying",
                      {Field("server", server), Field("attempt", attempt),
                       Field("error", version.error().describe()),
                       Field("retry_in_ms", static_cast<long long>(delay.count()))});
    if (shutdown.waitFor(delay)) break;
  }
  return std::nullopt;
}

void reportCrds(warren::kube::Client& client) {
  using warren::log::Field;
  for (const auto& name : warrenCrdNames()) {
    auto crd = client.get(warren::kube::resources::customResourceDefinitions(), "", name);
    if (crd) {
      warren::log::info("CRD installed", {Field("crd", name)});
    } else if (crd.error().isNotFound()) {
      warren::log::warn("CRD not installed", {Field("crd", name)});
    } else {
      warren::log::warn("cannot read CRD", {Field("crd", name), Field("error", crd.error().describe())});
    }
  }
}

std::string hostIdentity() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return std::string(host) + "_" + std::to_string(getpid());
}

}  // namespace

int main(int argc, char** argv) {
  // glibc gives threads that allocate at the same time arenas of their own, up to 8 per core, and
  // freed memory stays in each. The operator's threads (HTTP client pool, informers, workers) mostly
  // wait on the network; two arenas serve them, and the initial lists after a restart no longer leave
  // memory spread over many (N=1000: RSS after a restart 152 MiB instead of 202, see README).
  mallopt(M_ARENA_MAX, 2);
  using warren::log::Field;
  // First, before any thread exists: threads inherit the blocked SIGTERM/SIGINT, so only the
  // shutdown thread receives them.
  warren::app::ShutdownSignal::instance().install();

  auto options = warren::app::parseOptions(std::vector<std::string>(argv + 1, argv + argc));
  if (!options) {
    std::fprintf(stderr, "warren-operator: %s\n", options.error().message.c_str());
    return kExitUsage;
  }
  if (options->show_help) {
    std::fputs(warren::app::usage().c_str(), stdout);
    return 0;
  }
  if (options->show_version) {
    std::printf("warren-operator %s\n", kVersion);
    return 0;
  }
  warren::log::configure(options->log_level, options->log_format);

  auto config = warren::kube::loadDefaultConfig(options->kubeconfig, options->context);
  if (!config) {
    std::fprintf(stderr, "warren-operator: %s\n", config.error().message.c_str());
    return kExitUsage;
  }
  // Every connection trusts the configured CA only: the system bundle need not be parsed for each.
  if (!config->tls.ca_pem.empty()) warren::kube::CpprestTransport::skipDefaultTrustStore();
  // The HTTP client's I/O threads only run completions (requests wait and parse on the callers'
  // threads): eight serve every watch and worker; cpprestsdk's default is forty.
  warren::kube::CpprestTransport::setIoThreads(8);
  warren::kube::ClientOptions client_options;
  client_options.qps = options->kube_api_qps;
  client_options.burst = options->kube_api_burst;
  client_options.user_agent = std::string("warren-operator/") + kVersion;
  client_options.allow_http_bearer = options->allow_http_bearer;
  auto client = warren::kube::Client::fromConfig(*config, client_options);
  if (!client) {
    std::fprintf(stderr, "warren-operator: %s: %s\n", config->origin.c_str(),
                 client.error().message.c_str());
    return kExitUsage;
  }
  warren::log::info("starting", {Field("version", kVersion), Field("config", config->origin),
                                 Field("server", config->server),
                                 Field("watch_namespace", options->watch_namespace.empty()
                                                              ? std::string("(all)")
                                                              : options->watch_namespace)});

  // Cached children compress against a sample of what warren builds (before any informer packs anything).
  warren::runtime::extendCompactDictionary(warren::builders::brokerClusterCacheSample());
  warren::runtime::ManagerOptions manager_options;
  manager_options.version = kVersion;
  manager_options.http_address = options->http_bind_address == "0" ? "" : options->http_bind_address;
  manager_options.leader_elect = options->leader_elect;
  manager_options.leader_election.lease_namespace = options->leader_election_namespace.empty()
                                                        ? config->default_namespace
                                                        : options->leader_election_namespace;
  manager_options.leader_election.lease_name = options->leader_election_id;
  manager_options.leader_election.identity = hostIdentity();
  if (options->leader_elect) {
    // The elector's own client: no client-side rate limit shared with the controllers, and a request
    // timeout of half the renew deadline, so one renewal (a GET and a PUT) cannot outlast it.
    warren::kube::ClientOptions elector_options;
    elector_options.qps = -1;
    elector_options.allow_http_bearer = options->allow_http_bearer;
    elector_options.user_agent = client_options.user_agent + " leader-election";
    elector_options.request_timeout = std::chrono::duration_cast<std::chrono::seconds>(
        manager_options.leader_election.renew_deadline / 2);
    auto elector_client = warren::kube::Client::fromConfig(*config, elector_options);
    if (!elector_client) {
      std::fprintf(stderr, "warren-operator: %s: %s\n", config->origin.c_str(), elector_client.error().message.c_str());
      return kExitUsage;
    }
    manager_options.leader_election.client = *elector_client;
  }
  warren::runtime::Manager manager(*client, manager_options);
  warren::controllers::addBrokerClusterController(manager, options->watch_namespace,
                                                  options->max_concurrent_reconciles);
  warren::controllers::addBrokerBindingController(manager, options->watch_namespace, options->binding_workers);
  warren::controllers::addCountingServiceController(manager, options->watch_namespace,
                                                    options->max_concurrent_reconciles);
  warren::controllers::OffloadPipelineSettings offload_settings;
  if (!options->offload_image.empty()) offload_settings.default_image = options->offload_image;
  warren::controllers::addOffloadPipelineController(manager, options->watch_namespace,
                                                    options->max_concurrent_reconciles,
                                                    warren::controllers::realOffloadBackends(), offload_settings);

  auto version = waitForApiServer(**client, config->server);
  if (!version) {
    warren::log::info("stopped before the API server answered");
    return 0;
  }
  warren::log::info("connected to API server",
                    {Field("server_version", version->value("gitVersion", "unknown")),
                     Field("platform", version->value("platform", "unknown"))});
  reportCrds(**client);

  warren::kube::Cancellation stop;
  std::thread relay([&stop] {
    while (!warren::app::ShutdownSignal::instance().waitFor(std::chrono::seconds(3600))) {
    }
    stop.cancel();
  });
  relay.detach();
  const int exit_code = manager.run(stop);
  warren::log::info("stopped", {Field("exit_code", exit_code)});
  return exit_code;
}
