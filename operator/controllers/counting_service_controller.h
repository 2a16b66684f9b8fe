// The CountingService controller: renders the counting service's and
// client's configuration (broker = the BrokerCluster's active node, its
// default user, the topic, the interval and the start time) into a Secret,
// and runs both programs as Deployments whose pod template carries the
// config's checksum, so a new active node rolls them onto it. The Secrets it
// reads and writes are re-read every `secret_recheck` (see secret_recheck.h).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "api/counting_service.h"
#include "controllers/secret_recheck.h"
#include "runtime/controller.h"
#include "runtime/manager.h"

namespace warren::controllers {

using api::countingServices;

class CountingServiceReconciler : public runtime::Reconciler {
 public:
  // `client` serves live reads (Secrets) and every write; the informers
  // serve the services, clusters and Deployments from the cache.
  CountingServiceReconciler(std::shared_ptr<kube::ObjectClient> client, std::shared_ptr<runtime::Informer> services,
                            std::shared_ptr<runtime::Informer> clusters, std::shared_ptr<runtime::Informer> deployments,
                            std::chrono::milliseconds secret_recheck = kDefaultSecretRecheck);
  runtime::ReconcileOutcome reconcile(const runtime::Request& request) override;

 private:
  std::shared_ptr<kube::ObjectClient> client_;
  std::shared_ptr<runtime::Informer> services_, clusters_, deployments_;
  std::chrono::milliseconds secret_recheck_;
};

void addCountingServiceController(runtime::Manager& manager, const std::string& ns, int workers,
                                  std::chrono::milliseconds secret_recheck = kDefaultSecretRecheck);

}  // namespace warren::controllers
