#include "controllers/offload_backends.h"

#include "controllers/backend_clients.h"

namespace warren::controllers {
namespace {

// Forwards to the backends of warren-backend-clients.so, opened by the first
// call; while it cannot be opened every call reports why.
class LoadedBackends : public OffloadBackends {
 public:
  Result<bool> checkStorage(const offload::S3Config& config, const std::string& bucket, bool create) override {
    auto clients = loadBackendClients();
    if (!clients) return clients.error();
    return (*clients)->offload->checkStorage(config, bucket, create);
  }

  Result<LedgerCheck> checkDatabase(const std::string& uri, const std::string& schema) override {
    auto clients = loadBackendClients();
    if (!clients) return clients.error();
    return (*clients)->offload->checkDatabase(uri, schema);
  }

  Result<offload::TopologyReport> ensureTopology(const offload::ManagementAccess& access, const offload::Topology& topology,
                                                 const std::vector<std::string>& recipients) override {
    auto clients = loadBackendClients();
    if (!clients) return clients.error();
    return (*clients)->offload->ensureTopology(access, topology, recipients);
  }

  Status removeTopology(const offload::ManagementAccess& access, const offload::Topology& topology) override {
    auto clients = loadBackendClients();
    if (!clients) return clients.error();
    return (*clients)->offload->removeTopology(access, topology);
  }

  Status removeObjects(const offload::S3Config& config, const std::string& bucket, const std::string& prefix) override {
    auto clients = loadBackendClients();
    if (!clients) return clients.error();
    return (*clients)->offload->removeObjects(config, bucket, prefix);
  }

  Status dropLedger(const std::string& uri, const std::string& schema) override {
    auto clients = loadBackendClients();
    if (!clients) return clients.error();
    return (*clients)->offload->dropLedger(uri, schema);
  }
};

}  // namespace

std::shared_ptr<OffloadBackends> realOffloadBackends() { return std::make_shared<LoadedBackends>(); }

}  // namespace warren::controllers
