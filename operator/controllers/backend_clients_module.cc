// warren-backend-clients.so: the clients that need libcurl and libpq, loaded
// by the operator on first use (see backend_clients.h). Only the entry point
// is exported; everything else, including the static libraries linked in,
// stays local to the module.
#include <cstring>

#include "controllers/backend_clients.h"
#include "offload/curl_management_transport.h"

namespace warren::controllers {
namespace {

// Checks give up fast: the controller reports and requeues instead of waiting.
offload::S3Config bounded(offload::S3Config config) {
  config.connect_timeout = std::chrono::milliseconds(3000);
  config.stall_timeout = std::chrono::seconds(10);
  config.max_attempts = 2;
  return config;
}

// libpq waits for an unreachable host as long as TCP does; the check does not.
std::string withConnectTimeout(const std::string& uri) {
  if (uri.find("connect_timeout") != std::string::npos) return uri;
  if (uri.rfind("postgres://", 0) == 0 || uri.rfind("postgresql://", 0) == 0) {
    return uri + (uri.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=5";
  }
  return uri + " connect_timeout=5";
}

class RealBackends : public OffloadBackends {
 public:
  Result<bool> checkStorage(const offload::S3Config& config, const std::string& bucket, bool create) override {
    auto client = offload::S3Client::create(bounded(config));
    if (!client) return client.error();
    auto head = (*client)->headBucket(bucket);
    if (head) return false;
    if (head.error().reason != "NotFound" || !create) return head.error();
    if (auto created = (*client)->createBucket(bucket); !created) return created.error();
    return true;
  }

  Result<LedgerCheck> checkDatabase(const std::string& uri, const std::string& schema) override {
    auto ledger = offload::Ledger::open(withConnectTimeout(uri), schema, "warren-operator");
    if (!ledger) return ledger.error();
    auto version = (*ledger)->schemaVersion();
    if (!version) return version.error();
    if (*version < offload::kLedgerSchemaVersion) {
      if (auto migrated = (*ledger)->migrate(); !migrated) return migrated.error();
      version = (*ledger)->schemaVersion();
      if (!version) return version.error();
    }
    auto stats = (*ledger)->stats();
    if (!stats) return stats.error();
    return LedgerCheck{*version, *stats};
  }

  Result<offload::TopologyReport> ensureTopology(const offload::ManagementAccess& access, const offload::Topology& topology,
                                                 const std::vector<std::string>& recipients) override {
    auto transport = offload::curlManagementTransport(access);
    return offload::ensureTopology(*transport, topology, recipients);
  }

  Status removeTopology(const offload::ManagementAccess& access, const offload::Topology& topology) override {
    auto transport = offload::curlManagementTransport(access);
    return offload::removeTopology(*transport, topology);
  }

  Status removeObjects(const offload::S3Config& config, const std::string& bucket, const std::string& prefix) override {
    auto client = offload::S3Client::create(bounded(config));
    if (!client) return client.error();
    std::string token;
    do {
      auto page = (*client)->list(bucket, prefix, token);
      if (!page) return page.error();
      for (const auto& object : page->objects) {
        if (auto removed = (*client)->remove(bucket, object.key); !removed) return removed;
      }
      token = page->next_continuation_token.value_or("");
    } while (!token.empty());
    return okStatus();
  }

  Status dropLedger(const std::string& uri, const std::string& schema) override {
    auto ledger = offload::Ledger::open(withConnectTimeout(uri), schema, "warren-operator");
    if (!ledger) return ledger.error();
    return (*ledger)->dropSchema();
  }
};

}  // namespace
}  // namespace warren::controllers

extern "C" __attribute__((visibility("default"))) bool warren_backend_clients_entry(
    const char* abi_tag, warren::controllers::BackendClients* out) {
  if (std::strcmp(abi_tag, warren::controllers::kBackendClientsAbiTag) != 0) return false;
  out->offload = std::make_shared<warren::controllers::RealBackends>();
  out->management = [](const warren::offload::ManagementAccess& access) {
    return warren::offload::curlManagementTransport(access);
  };
  return true;
}
