// Helpers every controller needs: controller ownerReferences, finalizers
// added and removed with a JSON-patch `test` guard (so a concurrent change
// is never overwritten), and status conditions whose lastTransitionTime
// moves only when their status does.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "kube/interfaces.h"

namespace warren::runtime {

// {apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true}.
nlohmann::json controllerReference(const nlohmann::json& owner);

bool hasFinalizer(const nlohmann::json& object, const std::string& finalizer);
// The JSON patches, exposed for tests; empty when there is nothing to do.
nlohmann::json addFinalizerPatch(const nlohmann::json& object, const std::string& finalizer);
nlohmann::json removeFinalizerPatch(const nlohmann::json& object, const std::string& finalizer);
// Apply them; a failed `test` comes back as the API's Invalid error, so the
// caller re-reads and tries again.
Result<nlohmann::json> addFinalizer(kube::ObjectWriter& writer, const kube::ResourceType& type,
                                    const nlohmann::json& object, const std::string& finalizer);
Result<nlohmann::json> removeFinalizer(kube::ObjectWriter& writer, const kube::ResourceType& type,
                                       const nlohmann::json& object, const std::string& finalizer);

struct Condition {
  std::string type;
  std::string status;  // "True", "False", "Unknown"
  std::string reason;
  std::string message;
};

// Sets `condition` in a conditions array (creating the array if null).
// lastTransitionTime changes only when the status changes; returns true when
// anything changed.
bool setCondition(nlohmann::json& conditions, const Condition& condition, long long observed_generation,
                  std::chrono::system_clock::time_point now = std::chrono::system_clock::now());
// Points into `conditions`, so it must outlive the result: temporaries are refused.
const nlohmann::json* findCondition(const nlohmann::json& conditions, const std::string& type);
const nlohmann::json* findCondition(const nlohmann::json&& conditions, const std::string& type) = delete;

// The JSON merge patch (RFC 7386) that turns `before` into `after`: keys
// gone from `after` are null (so the server removes them), unchanged keys
// are left out, arrays and scalars are replaced whole.
nlohmann::json mergePatchFrom(const nlohmann::json& before, const nlohmann::json& after);

// Writes `after` as the status of the object whose cached copy had status
// `before` and resourceVersion `resource_version`, only when they differ, as
// a merge patch that also removes fields gone from `after`. The patch
// carries the resourceVersion as a precondition, so a status decided from a
// stale cache (an active node, a start time) is refused with a Conflict and
// decided again from fresh data instead of overwriting a newer one. An
// object deleted meanwhile is not an error.
Status patchStatusIfChanged(kube::StatusWriter& writer, const kube::ResourceType& type, const std::string& ns,
                            const std::string& name, const std::string& resource_version, const nlohmann::json& before,
                            const nlohmann::json& after, const std::string& field_manager);

// RFC 3339 in UTC with seconds ("2026-11-23T10:00:00Z") and with
// microseconds (MicroTime, as Leases use, and instants such as a
// failover's, from which latencies are measured).
std::string formatTime(std::chrono::system_clock::time_point time);
std::string formatMicroTime(std::chrono::system_clock::time_point time);

}  // namespace warren::runtime

namespace warren::runtime {

// The string at `pointer` in `object`; "" when absent, not a string, or the
// path crosses something else. Never throws: for status fields of cached
// objects, which the schema does not protect from other writers.
std::string stringAt(const nlohmann::json& object, const nlohmann::json::json_pointer& pointer);

// The decoded value of a Secret's data[key]; "" when absent, not a string or not base64.
std::string secretValue(const nlohmann::json& secret, const std::string& key);

// A Kubernetes resource quantity ("1Gi", "500m", "1e3") as a number; nullopt
// when it is not one.
std::optional<long double> parseQuantity(const std::string& text);

// True when every field of `desired` is present in `live` with an equal
// value (objects recursively, arrays element by element with equal
// length; values under requests, limits and capacity compared as
// quantities, so "1024Mi" equals the server's "1Gi"). The API server adds defaults to what was applied, so this is how
// a controller tells "already as desired" without writing.
bool containsAll(const nlohmann::json& live, const nlohmann::json& desired);

// Ownership. warren writes only objects it created: an object is warren's
// when its controller ownerReference names the owner's uid. Writing over
// anything else (a name collision with someone's own Secret, Service, ...)
// is refused with a terminal error of reason "NotOwned" naming the object,
// which controllers report in a condition; nothing is written.
bool isControlledBy(const nlohmann::json& object, const std::string& owner_uid);
// The uid in `object`'s controller ownerReference ("" when none).
std::string controllerUid(const nlohmann::json& object);
Error notOwnedError(const kube::ResourceType& type, const nlohmann::json& live);

// Creates `fresh` (a ConfigMap or Secret with its name, namespace and
// controller ownerReference), or, when it exists and is controlled by the
// same owner, updates its data to fresh["data"] if that differs (under
// optimistic concurrency); other fields of an existing object are left
// alone. An existing object with another controller, or none, is NotOwned.
Status createOrUpdateData(kube::ObjectReader& reader, kube::ObjectWriter& writer, const kube::ResourceType& type,
                          const nlohmann::json& fresh, const std::string& field_manager);

// Keeps apiVersion, kind, metadata and the fields at the JSON pointers
// `keep`, dropping everything else: an informer transform for caches that
// need only part of big objects (a Node's image list, a Pod's containers).
void pruneTo(nlohmann::json& object, const std::vector<nlohmann::json::json_pointer>& keep);

// Keeps only metadata.name, metadata.namespace and metadata.resourceVersion:
// an informer transform for caches that only tell a controller that an
// object appeared, changed or went.
void keepIdentityOnly(nlohmann::json& object);
inline constexpr const char* kKeepIdentityOnly = "identity-only";  // its transform_name

// keepIdentityOnly plus metadata.labels and metadata.ownerReferences: for
// caches whose events are mapped to an owner or a labelled parent (warren's
// own Secrets, watched for their metadata only).
void keepIdentityAndOwnership(nlohmann::json& object);
inline constexpr const char* kKeepIdentityAndOwnership = "identity-and-ownership";  // its transform_name

// Server-side applies `desired` in `ns` (taking over its fields) unless the
// cached copy (null when there is none) already contains all of it, so
// steady state writes nothing. `desired` carries its controller
// ownerReference; the apply goes ahead only for an object that owner
// controls or that does not exist yet (when nothing is cached the live
// object is read first: the cache only holds warren's labelled objects),
// and is NotOwned otherwise. The apply's error is returned as it came.
Status applyOwned(kube::ObjectReader& reader, kube::ObjectWriter& writer, const kube::ResourceType& type,
                  const std::string& ns, const nlohmann::json* cached, const nlohmann::json& desired,
                  const std::string& field_manager);

}  // namespace warren::runtime
