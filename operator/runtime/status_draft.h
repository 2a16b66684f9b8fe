// StatusDraft: the status a reconcile builds for one cached object. It starts
// from the status the cache holds, takes conditions stamped with the object's
// generation, and is written to the status subresource only when it differs
// from what the cache holds, so a reconcile in steady state writes nothing.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "kube/interfaces.h"
#include "runtime/object_helpers.h"

namespace warren::runtime {

class StatusDraft {
 public:
  // `object` is the cached object (metadata and status are copied from it).
  explicit StatusDraft(const nlohmann::json& object);

  // The status being built: fields other than conditions are set here.
  nlohmann::json& fields() { return status_; }
  const nlohmann::json& fields() const { return status_; }

  long long generation() const { return generation_; }

  // Sets a condition; lastTransitionTime moves only when its status does.
  void setCondition(const Condition& condition);

  // Stamps observedGeneration and patches the status subresource when it
  // differs from the cached one, removing fields no longer set, under the
  // cached resourceVersion (a Conflict means the cache was stale: the
  // reconcile is retried on fresh data). An object deleted meanwhile is not
  // an error.
  Status write(kube::StatusWriter& writer, const kube::ResourceType& type, const std::string& field_manager);

 private:
  std::string ns_;
  std::string name_;
  std::string resource_version_;
  long long generation_ = 0;
  nlohmann::json cached_;
  nlohmann::json status_;
};

}  // namespace warren::runtime
