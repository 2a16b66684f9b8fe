// Reroute latency against the local control plane (reported, never
// asserted): from the BrokerCluster's active node changing (so the debounce
// is excluded) to each BrokerBinding's ConfigMap naming the new node, with
// 1, 10, 100 and 1000 bindings on one cluster.
//
//   WARREN_TEST_KUBECONFIG=... warren_reroute_bench [BINDINGS WORKERS]
// With BINDINGS and WORKERS, runs that one case, logging at info (each
// target patched, with its time).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <thread>

#include "api/broker_cluster.h"
#include "app/options.h"
#include "bench_cluster.h"
#include "common/log.h"
#include "controllers/broker_binding_controller.h"
#include "controllers/broker_cluster_controller.h"
#include "kube/token_source.h"
#include "runtime/object_helpers.h"

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const size_t index = std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5));
  return values[index];
}

// The next case starts once `ns` is gone: deleting a thousand objects competes for the API server.
void deleteAndWait(warren::kube::Client& client, const std::string& ns) {
  (void)client.remove(warren::kube::resources::namespaces(), "", ns, {});
  const auto deadline = Clock::now() + std::chrono::minutes(5);
  while (Clock::now() < deadline) {
    auto left = client.get(warren::kube::resources::namespaces(), "", ns);
    if (!left && left.error().isNotFound()) return;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

// `operator_client`: the client options warren's controllers run with; `workers`: the BrokerBinding
// controller's (the operator's --binding-workers).
void run(int bindings, const warren::kube::ClientOptions& operator_client, int workers, const std::string& label) {
  auto client = warren::bench::unlimitedClient();
  const std::string ns = warren::bench::createNamespace(
      *client, "reroute-" + std::to_string(bindings) + "-w" + std::to_string(workers) + (operator_client.qps > 0 ? "-limited" : ""));
  warren::runtime::ManagerOptions options;
  options.http_address = "";
  warren::runtime::Manager manager(warren::bench::benchClient(operator_client), options);
  warren::controllers::addBrokerClusterController(manager, ns, 4);
  warren::controllers::addBrokerBindingController(manager, ns, workers);
  warren::kube::Cancellation stop;
  std::thread runner([&] { manager.run(stop); });

  (void)client->create(warren::api::brokerClusters(), ns,
                       {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerCluster"}, {"metadata", {{"name", "bus"}}},
                        {"spec", {{"replicas", 3}, {"failover", {{"unhealthyAfterSeconds", 1}}}}}}, {});
  for (int i = 0; i < bindings; ++i) {
    const std::string name = "app-" + std::to_string(i);
    (void)client->create(warren::kube::resources::configMaps(), ns,
                         {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}, {"labels", {{"bench", "reroute"}}}}},
                          {"data", {{"config.json", "{\"rabbitmq\": {\"host\": \"unset\"}}"}}}}, {});
    (void)client->create(warren::controllers::brokerBindings(), ns,
                         {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerBinding"}, {"metadata", {{"name", name}}},
                          {"spec", {{"brokerClusterRef", {{"name", "bus"}}},
                                    {"targets", {{{"kind", "ConfigMap"}, {"name", name}, {"key", "config.json"},
                                                  {"format", "json"}, {"fields", {{"host", "rabbitmq.host"}}}}}}}}}, {});
  }
  warren::kube::ListOptions by_label;
  by_label.label_selector = "bench=reroute";
  auto hosts_with = [&](const std::string& host) {
    int count = 0;
    auto list = client->list(warren::kube::resources::configMaps(), ns, by_label);
    if (list) {
      for (const auto& cm : (*list)["items"]) count += cm["data"]["config.json"].get<std::string>().find(host) != std::string::npos;
    }
    return count;
  };
  // The first node to become Ready is active, whichever it is: wait for it
  // and for every target to name it.
  auto active_node = [&]() -> std::string {
    auto cluster = client->get(warren::api::brokerClusters(), ns, "bus");
    return cluster ? cluster->value("/status/activeNode"_json_pointer, std::string()) : "";
  };
  const auto setup_deadline = Clock::now() + std::chrono::minutes(5);
  std::string first;
  while (Clock::now() < setup_deadline) {
    first = active_node();
    if (!first.empty() && hosts_with(warren::api::nodeHost(first)) == bindings) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (first.empty()) {
    std::cout << bindings << " bindings: the cluster never got an active node\n";
    stop.cancel();
    runner.join();
    return;
  }

  // Fail the active pod as the kubelet would report it.
  const std::string pod = first.substr(first.find('@') + 1, first.find('.') - first.find('@') - 1);
  const std::string now = warren::runtime::formatTime(std::chrono::system_clock::now());
  (void)client->patchStatus(warren::kube::resources::pods(), ns, pod, warren::kube::PatchType::kStrategicMerge,
                            {{"status", {{"conditions", {{{"type", "Ready"}, {"status", "False"}, {"lastTransitionTime", now}}}}}}}, {});
  // The latency of each binding is read from what the operator recorded, on one clock and with
  // microseconds: from the cluster's lastFailover.time (the instant it decided the move) to the binding's
  // lastPatched (its targets written). Polling here only waits, so it is slow: a list of 1000 bindings
  // every 100 ms took API server time from the operator it measures.
  std::string second;
  std::string failed_over_at;
  const auto move_deadline = Clock::now() + std::chrono::minutes(1);
  while (Clock::now() < move_deadline) {
    auto cluster = client->get(warren::api::brokerClusters(), ns, "bus");
    if (cluster) {
      second = warren::runtime::stringAt(*cluster, "/status/activeNode"_json_pointer);
      failed_over_at = warren::runtime::stringAt(*cluster, "/status/lastFailover/time"_json_pointer);
    }
    if (!second.empty() && second != first && !failed_over_at.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto moved = warren::kube::parseRfc3339(failed_over_at);
  if (second.empty() || second == first || !moved) {
    std::cout << bindings << " bindings: the active node did not move within a minute\n";
    stop.cancel();
    runner.join();
    return;
  }
  std::vector<double> latencies;
  std::map<std::string, bool> done;
  const auto deadline = Clock::now() + std::chrono::minutes(2);
  while (static_cast<int>(done.size()) < bindings && Clock::now() < deadline) {
    auto list = client->list(warren::controllers::brokerBindings(), ns, {});
    if (list) {
      for (const auto& binding : (*list)["items"]) {
        const std::string name = binding["metadata"]["name"];
        if (done.count(name) || warren::runtime::stringAt(binding, "/status/currentNode"_json_pointer) != second) continue;
        const auto patched = warren::kube::parseRfc3339(warren::runtime::stringAt(binding, "/status/lastPatched"_json_pointer));
        if (!patched) continue;
        done[name] = true;
        latencies.push_back(std::chrono::duration<double, std::milli>(*patched - *moved).count());
      }
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (latencies.empty()) {
    std::cout << bindings << " bindings: no target was rerouted\n";
  } else {
    std::cout << bindings << " bindings, " << label << ": reroute latency p50 " << percentile(latencies, 0.5)
              << " ms, p99 " << percentile(latencies, 0.99) << " ms (" << latencies.size() << "/" << bindings
              << " rerouted)" << std::endl;
  }
  stop.cancel();
  runner.join();
  deleteAndWait(*client, ns);
}

// The bound a reroute cannot beat: `count` ConfigMaps merge-patched by `clients` concurrent clients (one
// key each, as a reroute writes them), with no operator running.
void apiBound(int count, int clients) {
  auto client = warren::bench::unlimitedClient();
  const std::string ns = warren::bench::createNamespace(*client, "patch-bound-" + std::to_string(count));
  for (int i = 0; i < count; ++i) {
    (void)client->create(warren::kube::resources::configMaps(), ns,
                         {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "cm-" + std::to_string(i)}}},
                          {"data", {{"config.json", "{}"}}}}, {});
  }
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      for (int i = next++; i < count; i = next++) {
        auto patched = client->patch(warren::kube::resources::configMaps(), ns, "cm-" + std::to_string(i),
                                     warren::kube::PatchType::kMerge, {{"data", {{"config.json", "{\"host\": \"b\"}"}}}},
                                     {"warren", false});
        if (!patched) ++failed;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << count << " ConfigMap patches, " << clients << " clients, no operator: " << seconds * 1000 << " ms ("
            << static_cast<int>(count / seconds) << "/s, " << failed.load() << " failed)" << std::endl;
  deleteAndWait(*client, ns);
}

}  // namespace

int main(int argc, char** argv) {
  warren::kube::ClientOptions unlimited;
  unlimited.qps = -1;
  if (argc == 3) {
    warren::log::configure(warren::log::Level::kInfo, warren::log::Format::kText);
    const int workers = std::atoi(argv[2]);
    apiBound(std::atoi(argv[1]), workers);
    run(std::atoi(argv[1]), unlimited, workers, std::to_string(workers) + " workers, no client rate limit");
    return 0;
  }
  warren::log::configure(warren::log::Level::kWarn, warren::log::Format::kText);
  const int workers = warren::app::Options{}.binding_workers;
  const std::string label = std::to_string(workers) + " workers, no client rate limit";
  for (int bindings : {1, 10, 100, 1000}) run(bindings, unlimited, workers, label);
  apiBound(100, workers);
  apiBound(1000, workers);
  // More workers (--binding-workers 16): measured no faster here, where the API server is the bound.
  run(100, unlimited, 16, "16 workers, no client rate limit");
  // With a client-side limit (--kube-api-qps 20 --kube-api-burst 40, the old
  // controller-runtime-style default): what a mass reroute's requests (read and
  // write the target, write status and an Event, per binding) cost behind it.
  warren::kube::ClientOptions limited;
  limited.qps = 20;
  limited.burst = 40;
  run(100, limited, workers, std::to_string(workers) + " workers, client limit 20 qps / burst 40");
  return 0;
}
