// How controllers learn that a Secret they depend on changed. warren's
// informers never cache Secret data: the Secrets it creates itself (cookie, default user,
// credential copies, counting config; all labelled
// app.kubernetes.io/managed-by=warren-operator) are watched for their
// metadata only (names, labels, owners, resourceVersions), so a deletion or
// an edit (a rotated password) wakes the controllers that read them, and the
// data is read with a GET only then (secret_reads.h keeps what a reconciler
// read, under the resourceVersion it had, until that changes). Secrets warren does not create (a
// cookie or default user brought by the user, a binding's Secret target)
// are not watched; a controller whose output depends on one re-reads it
// every `secret_recheck` instead. Reads only: in steady state nothing is
// written, and with no such Secret nothing is read either.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/manager.h"

namespace warren::controllers {

inline constexpr std::chrono::milliseconds kDefaultSecretRecheck{60000};

inline constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr const char* kManagedByWarren = "warren-operator";

// The value of the warren.dev/cluster label of a cached object ("" when none):
// which BrokerCluster a Secret of warren's belongs to.
std::string clusterLabelOf(const nlohmann::json& object);

// The metadata-only cache of the Secrets warren creates in `ns` ("" = all);
// every controller that asks gets the same one.
std::shared_ptr<runtime::Informer> addWarrenSecretsInformer(runtime::Manager& manager, const std::string& ns);

}  // namespace warren::controllers
