// BrokerCluster figures against the local control plane (reported, never
// asserted): time from creating N BrokerClusters to all their children
// existing, API writes per cluster, and API writes while they are left alone.
//
//   WARREN_TEST_KUBECONFIG=... warren_brokercluster_bench [clusters=100] [idle_seconds=300]
#include <unistd.h>

#include <iostream>
#include <sstream>
#include <thread>

#include "api/broker_cluster.h"
#include "common/log.h"
#include "controllers/broker_cluster_controller.h"
#include "bench_cluster.h"
#include "runtime/manager.h"
#include "runtime/metrics.h"

namespace {

using json = nlohmann::json;

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 100;
  const int idle_seconds = argc > 2 ? std::atoi(argv[2]) : 300;
  warren::log::configure(warren::log::Level::kWarn, warren::log::Format::kText);
  auto client = warren::bench::unlimitedClient();
  const std::string ns = warren::bench::createNamespace(*client, "bench-bc");

  warren::runtime::ManagerOptions manager_options;
  manager_options.http_address = "";
  auto operator_client = warren::bench::unlimitedClient();
  warren::runtime::Manager manager(operator_client, manager_options);
  warren::controllers::addBrokerClusterController(manager, ns, 4);
  warren::kube::Cancellation stop;
  std::thread runner([&] { manager.run(stop); });
  while (!manager.ready()) std::this_thread::sleep_for(std::chrono::milliseconds(50));

  const double writes_at_start = warren::runtime::Manager::apiWrites();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) {
    (void)client->create(warren::api::brokerClusters(), ns,
                         {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerCluster"},
                          {"metadata", {{"name", "bc-" + std::to_string(i)}}}, {"spec", {{"replicas", 3}}}}, {});
  }
  // All children exist: every cluster's StatefulSet and PodDisruptionBudget.
  while (std::chrono::steady_clock::now() - start < std::chrono::minutes(10)) {
    warren::kube::ListOptions list_options;
    list_options.label_selector = warren::api::kClusterLabel;
    auto pdbs = client->list(warren::kube::resources::podDisruptionBudgets(), ns, list_options);
    if (pdbs && static_cast<int>((*pdbs)["items"].size()) == count) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << count << " BrokerClusters: all children exist " << seconds << " s after the first create" << std::endl;
  // Steady state: every cluster reports all its nodes Ready.
  const auto ready_deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  while (std::chrono::steady_clock::now() < ready_deadline) {
    auto clusters = client->list(warren::api::brokerClusters(), ns, {});
    int ready = 0;
    if (clusters) {
      for (const auto& c : (*clusters)["items"]) ready += c.value("/status/readyReplicas"_json_pointer, 0) == 3;
    }
    if (ready == count) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  std::cout << "all " << count << " clusters Ready after "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s" << std::endl;
  std::this_thread::sleep_for(std::chrono::seconds(5));
  const double writes_settled = warren::runtime::Manager::apiWrites();
  std::cout << "API writes by the operator: " << (writes_settled - writes_at_start) << " in total, "
            << (writes_settled - writes_at_start) / count << " per cluster (children, secrets, status updates)\n";
  const double reads_settled = warren::runtime::Manager::apiReads();
  std::this_thread::sleep_for(std::chrono::seconds(idle_seconds));
  std::cout << "API writes while left alone for " << idle_seconds << " s: " << (warren::runtime::Manager::apiWrites() - writes_settled)
            << ", reads (get, list): " << (warren::runtime::Manager::apiReads() - reads_settled) << "\n";
  stop.cancel();
  runner.join();
  (void)client->remove(warren::kube::resources::namespaces(), "", ns, {});
  return 0;
}
