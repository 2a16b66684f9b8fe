// The CountingService controller: renders the counting service's and
// client's configuration (broker = the BrokerCluster's active node, its
// default user, the topic, the interval and the start time) into a Secret,
// and runs both programs as Deployments whose pod template carries the
// config's checksum, so a new active node rolls them onto it.
#pragma once

#include <memory>
#include <string>

#include "runtime/controller.h"
#include "runtime/manager.h"

namespace warren::controllers {

const kube::ResourceType& countingServices();

class CountingServiceReconciler : public runtime::Reconciler {
 public:
  CountingServiceReconciler(std::shared_ptr<kube::Client> client, std::shared_ptr<runtime::Informer> services,
                            std::shared_ptr<runtime::Informer> clusters, std::shared_ptr<runtime::Informer> deployments);
  runtime::ReconcileOutcome reconcile(const runtime::Request& request) override;

 private:
  std::shared_ptr<kube::Client> client_;
  std::shared_ptr<runtime::Informer> services_, clusters_, deployments_;
};

void addCountingServiceController(runtime::Manager& manager, const std::string& ns, int workers);

}  // namespace warren::controllers
