// The BrokerBinding controller: keeps client configuration (fields in
// ConfigMaps and Secrets) pointed at the active node of a BrokerCluster, and
// restarts the listed workloads once per change of the active node. With no
// active node it changes nothing: clients are never pointed at a dead node.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "api/broker_binding.h"
#include "controllers/deferred_reroutes.h"
#include "controllers/secret_recheck.h"
#include "controllers/target_text_cache.h"
#include "runtime/controller.h"
#include "runtime/event_recorder.h"
#include "runtime/manager.h"

namespace warren::controllers {

using api::brokerBindings;

// Pod-template annotation naming the node a workload was restarted for.
inline constexpr const char* kReroutedToAnnotation = "warren.dev/rerouted-to";

class BrokerBindingReconciler : public runtime::Reconciler {
 public:
  // `client` serves live reads (targets, Secrets) and every write; the
  // informers serve the bindings and clusters from the cache. With
  // `config_map_metadata` (ConfigMaps' names and resourceVersions), a
  // ConfigMap target warren wrote last is not read again (TargetTextCache).
  BrokerBindingReconciler(std::shared_ptr<kube::ObjectClient> client, std::shared_ptr<runtime::Informer> bindings,
                          std::shared_ptr<runtime::Informer> clusters, std::shared_ptr<runtime::EventRecorder> events,
                          std::chrono::milliseconds secret_recheck = kDefaultSecretRecheck,
                          std::shared_ptr<runtime::Informer> config_map_metadata = nullptr);
  runtime::ReconcileOutcome reconcile(const runtime::Request& request) override;

 private:
  std::shared_ptr<kube::ObjectClient> client_;
  std::shared_ptr<runtime::Informer> bindings_;
  std::shared_ptr<runtime::Informer> clusters_;
  std::shared_ptr<runtime::EventRecorder> events_;
  std::chrono::milliseconds secret_recheck_;
  std::shared_ptr<runtime::Informer> config_map_metadata_;
  TargetTextCache written_targets_;
  DeferredReroutes deferred_status_;
};

void addBrokerBindingController(runtime::Manager& manager, const std::string& ns, int workers,
                                std::chrono::milliseconds secret_recheck = kDefaultSecretRecheck);

}  // namespace warren::controllers
