// The OffloadPipeline controller (seed 001). For each pipeline it checks
// the bucket (created when allowed), the ledger database (its tables
// created or upgraded) and declares the topology on the referenced
// BrokerCluster through its management API, each reported in its own
// condition (StorageReady, DatabaseReady, TopologyReady); it renders the
// coordinator's config Secret and runs the coordinator Deployment from it
// (CoordinatorAvailable), writes the binding Secret applications mount, and
// sums up in Ready. Status carries the queue names and the ledger's figures.
// S3, PostgreSQL and RabbitMQ cannot be watched, so a pipeline is checked
// again every `recheck` (sooner, `dependency_retry`, while one is failing):
// reads only, and status is written only when something changed. Deletion
// runs behind a finalizer: the topology is removed (and, with
// deletionPolicy Delete, the stored objects and the ledger), one bounded
// attempt each; what fails is reported in an Event and never blocks the
// deletion.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "api/offload_pipeline.h"
#include "controllers/offload_backends.h"
#include "runtime/controller.h"
#include "runtime/event_recorder.h"
#include "runtime/manager.h"

namespace warren::controllers {

struct OffloadPipelineSettings {
  std::string default_image = api::kDefaultOffloadImage;
  std::chrono::milliseconds recheck{60000};
  std::chrono::milliseconds dependency_retry{15000};
};

class OffloadPipelineReconciler : public runtime::Reconciler {
 public:
  // `client` serves live reads (Secrets) and every write; the informers
  // serve pipelines, clusters and the coordinator Deployments from the cache.
  OffloadPipelineReconciler(std::shared_ptr<kube::ObjectClient> client, std::shared_ptr<runtime::Informer> pipelines,
                            std::shared_ptr<runtime::Informer> clusters, std::shared_ptr<runtime::Informer> deployments,
                            std::shared_ptr<OffloadBackends> backends, std::shared_ptr<runtime::EventRecorder> events,
                            OffloadPipelineSettings settings = {});
  runtime::ReconcileOutcome reconcile(const runtime::Request& request) override;

 private:
  struct Inputs;
  runtime::ReconcileOutcome finalize(const nlohmann::json& object);
  // Reads the Secrets a pipeline names; what is missing is said in `problems`.
  Inputs readInputs(const api::OffloadPipeline& pipeline);

  std::shared_ptr<kube::ObjectClient> client_;
  std::shared_ptr<runtime::Informer> pipelines_, clusters_, deployments_;
  std::shared_ptr<OffloadBackends> backends_;
  std::shared_ptr<runtime::EventRecorder> events_;
  OffloadPipelineSettings settings_;
};

void addOffloadPipelineController(runtime::Manager& manager, const std::string& ns, int workers,
                                  std::shared_ptr<OffloadBackends> backends, OffloadPipelineSettings settings = {});

}  // namespace warren::controllers
