// The clients of what warren talks to outside Kubernetes — S3 and RabbitMQ's
// management API over libcurl, the offload ledger over libpq — live in a
// loadable module, warren-backend-clients.so, which the operator opens on
// first use (an OffloadPipeline, a password change, a scale-down). An
// operator that manages only BrokerClusters and bindings never maps libcurl,
// libpq and the ~25 libraries they pull in (about 4.5 MiB resident).
//
// The module is built from the same tree as the operator and found through
// the executable's run path (the build tree's module directory when built,
// ../lib/warren beside the installed binary). It hands out the same
// interfaces the reconcilers take, so they never know it was loaded.
#pragma once

#include <memory>

#include "common/result.h"
#include "controllers/offload_backends.h"
#include "controllers/password_sync.h"

namespace warren::controllers {

inline constexpr const char* kBackendClientsModule = "warren-backend-clients.so";

struct BackendClients {
  std::shared_ptr<OffloadBackends> offload;
  ManagementFactory management;
};

// The module's entry point fills `out` when `abi_tag` is the tag it was built
// with, and returns false otherwise (a module of another layout). The tag
// names the layout of BackendClients and of the interfaces it holds: raise
// its number with any change to them.
using BackendClientsEntry = bool (*)(const char* abi_tag, BackendClients* out);
inline constexpr const char* kBackendClientsEntry = "warren_backend_clients_entry";
inline constexpr const char* kBackendClientsAbiTag = "warren-backend-clients/1";

// Opens the module once per process (later calls return the same clients;
// a failed open is tried again on the next call). The Error, reason
// "BackendClientsUnavailable", names the module and what the loader said.
Result<std::shared_ptr<const BackendClients>> loadBackendClients();

}  // namespace warren::controllers
