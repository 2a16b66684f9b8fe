// The operator's controllers (BrokerCluster, BrokerBinding, CountingService) running
// in-process on a Manager, for integration tests; stopped on destruction.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "controllers/broker_binding_controller.h"
#include "controllers/broker_cluster_controller.h"
#include "controllers/counting_service_controller.h"
#include "live_cluster.h"
#include "runtime/manager.h"
#include "runtime/metrics.h"
#include "api/broker_cluster.h"

namespace warren::testing {

class RunningOperator {
 public:
  explicit RunningOperator(const std::string& ns,
                           std::chrono::milliseconds secret_recheck = controllers::kDefaultSecretRecheck) {
    runtime::ManagerOptions options;
    options.http_address = "";
    manager_ = std::make_unique<runtime::Manager>(LiveClusterTest::newAdminClient(), options);
    controllers::addBrokerClusterController(*manager_, ns, 2, secret_recheck);
    controllers::addBrokerBindingController(*manager_, ns, 2, secret_recheck);
    controllers::addCountingServiceController(*manager_, ns, 2, secret_recheck);
    // The controllers' own cache of BrokerClusters (the manager shares it).
    clusters_ = manager_->addInformer({api::brokerClusters(), ns, "", ""});
    thread_ = std::thread([this] { manager_->run(stop_); });
  }
  ~RunningOperator() {
    stop_.cancel();
    if (thread_.joinable()) thread_.join();
  }
  bool ready() const { return manager_->ready(); }

  // A positive signal for "nothing happened" checks: the operator's cache
  // holds BrokerCluster ns/name at `resource_version` (or newer) and every
  // controller is idle (nothing queued, nothing running), on two polls in a
  // row (an event's handlers run just after the cache takes it). Then every
  // event up to that version has been reconciled.
  bool reconciledVersion(const std::string& ns, const std::string& name, const std::string& resource_version) {
    auto cached = clusters_->store().get(runtime::objectKey(ns, name));
    if (!cached) return false;
    const std::string seen = (*cached)["metadata"].value("resourceVersion", "");
    if (seen.size() < resource_version.size() || (seen.size() == resource_version.size() && seen < resource_version)) {
      return false;
    }
    if (!manager_->controllersIdle()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return manager_->controllersIdle();
  }

  // Finished reconciles of a controller ("brokercluster", "brokerbinding", ...) in this process.
  static double reconcileCount(const std::string& controller = "brokercluster") {
    double total = 0;
    metrics::registry()
        .counter("controller_runtime_reconcile_total", "Reconciles per controller and result.", {"controller", "result"})
        .forEach([&](const metrics::LabelValues& labels, const metrics::Counter& counter) {
          if (labels.at(0) == controller) total += counter.value();
        });
    return total;
  }
  // Waits (up to `timeout`) until `controller` has finished `more` reconciles after this call.
  static bool reconcilesFinish(const std::string& controller, int more, std::chrono::seconds timeout) {
    const double from = reconcileCount(controller);
    return LiveClusterTest::eventually([&] { return reconcileCount(controller) >= from + more; }, timeout);
  }

 private:
  std::shared_ptr<runtime::Informer> clusters_;
  std::unique_ptr<runtime::Manager> manager_;
  kube::Cancellation stop_;
  std::thread thread_;
};

// Installs the CRDs from crds/ with kubectl (once per test binary).
void installCrds();

// The ordinal N of an active node "rabbit@<name>-server-N.<service>.<ns>".
inline int ordinalOfNode(const std::string& node) {
  const auto dot = node.find('.');
  const auto dash = node.rfind('-', dot);
  return std::stoi(node.substr(dash + 1, dot - dash - 1));
}
// Where a failover of `active` goes when every other node is Ready: the lowest other ordinal.
inline int failoverTarget(int active) { return active == 0 ? 1 : 0; }

// Marks a pod Ready or not through the status subresource, as the kubelet would.
Status setPodReady(kube::Client& client, const std::string& ns, const std::string& pod, bool ready);

}  // namespace warren::testing
