#include "runtime/status_draft.h"

namespace warren::runtime {

using nlohmann::json;

StatusDraft::StatusDraft(const json& object)
    : ns_(object.value("/metadata/namespace"_json_pointer, std::string())),
      name_(object.value("/metadata/name"_json_pointer, std::string())),
      resource_version_(object.value("/metadata/resourceVersion"_json_pointer, std::string())),
      generation_(object.value("/metadata/generation"_json_pointer, 0LL)),
      cached_(object.is_object() && object.contains("status") && object["status"].is_object() ? object["status"]
                                                                                               : json::object()),
      status_(cached_) {}

void StatusDraft::setCondition(const Condition& condition) {
  runtime::setCondition(status_["conditions"], condition, generation_);
}

Status StatusDraft::write(kube::StatusWriter& writer, const kube::ResourceType& type, const std::string& field_manager) {
  status_["observedGeneration"] = generation_;
  return patchStatusIfChanged(writer, type, ns_, name_, resource_version_, cached_, status_, field_manager);
}

}  // namespace warren::runtime
