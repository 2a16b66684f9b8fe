// What the OffloadPipeline controller checks and changes outside
// Kubernetes: the bucket, the ledger database and the broker's topology.
// An interface, so the reconciler is unit-tested with a fake; the real one
// (realOffloadBackends, in the module backend_clients.h loads) talks to S3
// through libcurl, to PostgreSQL through libpqxx and to RabbitMQ's
// management API, each call bounded by short timeouts and few retries so a
// dead dependency costs a reconcile seconds, not minutes. Errors carry the
// dependency's reason ("S3Unreachable", "AccessDenied", "NotFound",
// "DatabaseUnavailable", "BrokerUnreachable", "TopologyConflict", ...).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "offload/broker_management.h"
#include "offload/ledger.h"
#include "offload/s3_client.h"
#include "offload/topology.h"

namespace warren::controllers {

struct LedgerCheck {
  int schema_version = 0;
  offload::LedgerStats stats;
};

class OffloadBackends {
 public:
  virtual ~OffloadBackends() = default;
  // Ok when the bucket exists (created first when `create` and it does not);
  // true when this call created it.
  virtual Result<bool> checkStorage(const offload::S3Config& config, const std::string& bucket, bool create) = 0;
  // Opens the ledger, creates or upgrades its tables when behind, and reads its figures.
  virtual Result<LedgerCheck> checkDatabase(const std::string& uri, const std::string& schema) = 0;
  virtual Result<offload::TopologyReport> ensureTopology(const offload::ManagementAccess& access,
                                                         const offload::Topology& topology,
                                                         const std::vector<std::string>& recipients) = 0;
  virtual Status removeTopology(const offload::ManagementAccess& access, const offload::Topology& topology) = 0;
  // Deletes every object under `prefix` (deletionPolicy Delete).
  virtual Status removeObjects(const offload::S3Config& config, const std::string& bucket, const std::string& prefix) = 0;
  virtual Status dropLedger(const std::string& uri, const std::string& schema) = 0;
};

// The real backends; warren-backend-clients.so is opened by the first call,
// and while it cannot be, calls fail with "BackendClientsUnavailable".
std::shared_ptr<OffloadBackends> realOffloadBackends();

}  // namespace warren::controllers
