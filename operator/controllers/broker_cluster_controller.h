// The BrokerCluster controller: keeps each cluster's children as its spec
// says and reports what it observes in status. Secrets are created once and
// never regenerated; other children are applied with server-side apply only
// when the cached live object differs, so a cluster left alone causes no
// writes at all. Its Secrets are re-read every `secret_recheck`
// (secret_recheck.h), so a deleted or broken one is reported without waiting
// for another event.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <utility>
#include <memory>
#include <string>
#include <vector>

#include "api/broker_cluster.h"
#include "controllers/password_sync.h"
#include "controllers/secret_reads.h"
#include "controllers/secret_recheck.h"
#include "runtime/controller.h"
#include "runtime/event_recorder.h"
#include "runtime/manager.h"

namespace warren::controllers {

// Random bytes for cookies and passwords (OpenSSL's CSPRNG by default;
// replaceable in tests).
using RandomSource = std::function<std::string(size_t length)>;
std::string randomAlphanumeric(size_t length);

// Management API connections over libcurl, from warren-backend-clients.so
// (opened on first use; while it cannot be, each send fails with
// "BackendClientsUnavailable").
ManagementFactory defaultManagementFactory();

class BrokerClusterReconciler : public runtime::Reconciler {
 public:
  struct Informers {
    std::shared_ptr<runtime::Informer> clusters, stateful_sets, services, config_maps, pdbs, pods, nodes;
    // Metadata of warren's Secrets: a cookie or default-user Secret is read again only when it changed.
    std::shared_ptr<runtime::Informer> secrets = nullptr;
  };
  // `client` serves live reads (Secrets, children not cached yet) and every
  // write; the informers serve everything else from the cache.
  // `management` reaches a cluster's management API (to apply a rotated password).
  BrokerClusterReconciler(std::shared_ptr<kube::ObjectClient> client, Informers informers,
                          std::shared_ptr<runtime::EventRecorder> events, RandomSource random = randomAlphanumeric,
                          std::chrono::milliseconds secret_recheck = kDefaultSecretRecheck,
                          ManagementFactory management = defaultManagementFactory());

  runtime::ReconcileOutcome reconcile(const runtime::Request& request) override;

 private:
  struct Outcome;
  Status ensureSecrets(const api::BrokerCluster& cluster, Outcome& outcome);
  // PasswordSynced: the brokers accept the default-user Secret's password (password_sync.h).
  Status syncPassword(const api::BrokerCluster& cluster, const nlohmann::json& user, size_t members, Outcome& outcome);
  // Safe scale-down (scale_down.h): true while the departing nodes must stay, with the reason in `outcome`.
  bool holdForScaleDown(const api::BrokerCluster& cluster, int current, Outcome& outcome);
  // After a safe scale-down: makes the cluster forget `departed` (status.departedNodes) with a Job, once
  // their pods are gone, and clears them from status when the brokers no longer list them.
  Status forgetDepartedNodes(const api::BrokerCluster& cluster, const std::vector<std::string>& departed,
                             Outcome& outcome);
  Status applyChild(const api::BrokerCluster& cluster, const kube::ResourceType& type,
                    const std::shared_ptr<runtime::Informer>& cache, const nlohmann::json& desired,
                    Outcome& outcome);
  struct Observed {
    nlohmann::json status;
    std::optional<std::chrono::milliseconds> recheck_after;  // a debounce window ends
    std::optional<std::pair<std::string, std::string>> rerouted;  // from, to
  };
  Observed observe(const api::BrokerCluster& cluster, const Outcome& outcome) const;

  std::shared_ptr<kube::ObjectClient> client_;
  Informers informers_;
  std::shared_ptr<runtime::EventRecorder> events_;
  RandomSource random_;
  std::chrono::milliseconds secret_recheck_;
  ManagementFactory management_;
  SecretReads secret_reads_;
};

// Adds the pod indexes the reconciler reads (by cluster, by node) to its
// informers; addBrokerClusterController does this, tests call it themselves.
void addBrokerClusterIndexes(const BrokerClusterReconciler::Informers& informers);

// Adds the informers and the controller to `manager`. `ns` limits the watch
// ("" = all namespaces).
void addBrokerClusterController(runtime::Manager& manager, const std::string& ns, int workers,
                                std::chrono::milliseconds secret_recheck = kDefaultSecretRecheck);

}  // namespace warren::controllers
