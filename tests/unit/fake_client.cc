#include "fake_client.h"

namespace warren::testing {

using nlohmann::json;

namespace {

Error apiError(int code, const std::string& reason, const std::string& message) { return Error{code, reason, message}; }

std::string nameOf(const json& object) { return object.value("/metadata/name"_json_pointer, std::string()); }

json specOf(const json& object) {
  json copy = object;
  copy.erase("status");
  copy.erase("metadata");
  return copy;
}

}  // namespace

json FakeClient::stamp(json object, const json* previous) {
  auto& metadata = object["metadata"];
  metadata["resourceVersion"] = std::to_string(next_version_++);
  if (previous != nullptr) {
    metadata["uid"] = (*previous)["metadata"]["uid"];
    metadata["creationTimestamp"] = (*previous)["metadata"].value("creationTimestamp", "2026-01-01T00:00:00Z");
    const long long generation = (*previous)["metadata"].value("generation", 1LL);
    metadata["generation"] = specOf(*previous) == specOf(object) ? generation : generation + 1;
  } else {
    if (!metadata.contains("uid")) metadata["uid"] = "uid-" + std::to_string(next_version_);
    metadata["generation"] = 1;
    metadata["creationTimestamp"] = "2026-01-01T00:00:00Z";
  }
  return object;
}

json FakeClient::seed(const kube::ResourceType& type, json object) {
  std::lock_guard lock(mutex_);
  const Key key{type.plural, object.value("/metadata/namespace"_json_pointer, std::string()), nameOf(object)};
  const auto it = objects_.find(key);
  object = stamp(std::move(object), it == objects_.end() ? nullptr : &it->second);
  objects_[key] = object;
  return object;
}

json FakeClient::stored(const kube::ResourceType& type, const std::string& ns, const std::string& name) const {
  std::lock_guard lock(mutex_);
  const auto it = objects_.find({type.plural, ns, name});
  return it == objects_.end() ? json() : it->second;
}

void FakeClient::erase(const kube::ResourceType& type, const std::string& ns, const std::string& name) {
  std::lock_guard lock(mutex_);
  objects_.erase({type.plural, ns, name});
}

std::vector<FakeClient::Call> FakeClient::writes() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

std::vector<FakeClient::Call> FakeClient::writesTo(const std::string& resource) const {
  std::vector<Call> out;
  for (auto& call : writes()) {
    if (call.resource == resource) out.push_back(call);
  }
  return out;
}

int FakeClient::reads() const {
  std::lock_guard lock(mutex_);
  return reads_;
}

void FakeClient::clearCalls() {
  std::lock_guard lock(mutex_);
  calls_.clear();
  reads_ = 0;
}

void FakeClient::failNext(const std::string& verb, const std::string& resource, Error error) {
  std::lock_guard lock(mutex_);
  failures_[{verb, resource}] = std::move(error);
}

std::optional<Error> FakeClient::injected(const std::string& verb, const std::string& resource) {
  const auto it = failures_.find({verb, resource});
  if (it == failures_.end()) return std::nullopt;
  Error error = it->second;
  failures_.erase(it);
  return error;
}

Result<json> FakeClient::get(const kube::ResourceType& type, std::string_view ns, std::string_view name) {
  std::lock_guard lock(mutex_);
  ++reads_;
  if (auto error = injected("get", type.plural)) return *error;
  const auto it = objects_.find({type.plural, std::string(ns), std::string(name)});
  if (it == objects_.end()) {
    return apiError(404, "NotFound", type.plural + " \"" + std::string(name) + "\" not found");
  }
  return it->second;
}

Result<json> FakeClient::list(const kube::ResourceType& type, std::string_view ns, const kube::ListOptions&) {
  std::lock_guard lock(mutex_);
  ++reads_;
  json items = json::array();
  for (const auto& [key, object] : objects_) {
    if (std::get<0>(key) == type.plural && (ns.empty() || std::get<1>(key) == ns)) items.push_back(object);
  }
  return json{{"items", items}, {"metadata", {{"resourceVersion", std::to_string(next_version_)}}}};
}

Result<json> FakeClient::write(const std::string& verb, const kube::ResourceType& type, std::string_view ns,
                               std::string_view name, const json& body) {
  calls_.push_back({verb, type.plural, std::string(ns), std::string(name), body});
  if (auto error = injected(verb, type.plural)) return *error;
  const Key key{type.plural, std::string(ns), std::string(name)};
  const auto it = objects_.find(key);
  const json* live = it == objects_.end() ? nullptr : &it->second;
  const auto conflict = [&](const json& with) -> std::optional<Error> {
    const std::string wanted = with.value("/metadata/resourceVersion"_json_pointer, std::string());
    if (live != nullptr && !wanted.empty() && wanted != (*live)["metadata"].value("resourceVersion", "")) {
      return apiError(409, "Conflict", "the object has been modified; please apply your changes to the latest version");
    }
    return std::nullopt;
  };
  json result;
  if (verb == "create") {
    if (live != nullptr) return apiError(409, "AlreadyExists", type.plural + " \"" + std::string(name) + "\" already exists");
    json object = body;
    object["metadata"]["namespace"] = std::string(ns);
    result = stamp(std::move(object), nullptr);
  } else if (verb == "update" || verb == "updateStatus") {
    if (live == nullptr) return apiError(404, "NotFound", "not found");
    if (auto error = conflict(body)) return *error;
    json object = *live;
    if (verb == "update") {
      json status = object.value("status", json());
      object = body;
      if (!status.is_null()) object["status"] = status;
    } else {
      object["status"] = body.value("status", json::object());
    }
    result = stamp(std::move(object), live);
  } else if (verb == "apply") {
    json object = live != nullptr ? *live : json::object();
    json patch = body;
    if (live == nullptr) patch["metadata"]["namespace"] = std::string(ns);
    object.merge_patch(patch);
    result = stamp(std::move(object), live);
  } else if (verb == "patch-merge" || verb == "patchStatus-merge") {
    if (live == nullptr) return apiError(404, "NotFound", type.plural + " \"" + std::string(name) + "\" not found");
    if (auto error = conflict(body)) return *error;
    json object = *live;
    json patch = body;
    if (patch.contains("metadata")) patch["metadata"].erase("resourceVersion");
    if (verb == "patchStatus-merge") patch = json{{"status", patch.value("status", json::object())}};
    object.merge_patch(patch);
    result = stamp(std::move(object), live);
  } else if (verb == "patch-json") {
    if (live == nullptr) return apiError(404, "NotFound", "not found");
    // As the API server's json-patch: a `test` for null passes on an absent path.
    json ops = json::array();
    for (const auto& op : body) {
      if (op.value("op", "") == "test" && op.value("value", json(0)).is_null() &&
          !live->contains(json::json_pointer(op.value("path", "")))) {
        continue;
      }
      ops.push_back(op);
    }
    try {
      result = stamp(live->patch(ops), live);
    } catch (const json::exception& e) {
      return apiError(422, "Invalid", e.what());
    }
  } else if (verb == "delete") {
    if (live == nullptr) return apiError(404, "NotFound", "not found");
    result = *live;
    objects_.erase(it);
    return result;
  }
  objects_[key] = result;
  return result;
}

Result<json> FakeClient::create(const kube::ResourceType& type, std::string_view ns, const json& object,
                                const kube::WriteOptions&) {
  std::lock_guard lock(mutex_);
  return write("create", type, ns, nameOf(object), object);
}

Result<json> FakeClient::update(const kube::ResourceType& type, std::string_view ns, const json& object,
                                const kube::WriteOptions&) {
  std::lock_guard lock(mutex_);
  return write("update", type, ns, nameOf(object), object);
}

Result<json> FakeClient::apply(const kube::ResourceType& type, std::string_view ns, const json& object,
                               const kube::ApplyOptions&) {
  std::lock_guard lock(mutex_);
  return write("apply", type, ns, nameOf(object), object);
}

Result<json> FakeClient::patch(const kube::ResourceType& type, std::string_view ns, std::string_view name,
                               kube::PatchType patch_type, const json& patch, const kube::WriteOptions&) {
  std::lock_guard lock(mutex_);
  return write(patch_type == kube::PatchType::kJson ? "patch-json" : "patch-merge", type, ns, name, patch);
}

Result<json> FakeClient::remove(const kube::ResourceType& type, std::string_view ns, std::string_view name,
                                const kube::DeleteOptions&) {
  std::lock_guard lock(mutex_);
  return write("delete", type, ns, name, json());
}

Result<json> FakeClient::updateStatus(const kube::ResourceType& type, std::string_view ns, const json& object,
                                      const kube::WriteOptions&) {
  std::lock_guard lock(mutex_);
  return write("updateStatus", type, ns, nameOf(object), object);
}

Result<json> FakeClient::applyStatus(const kube::ResourceType& type, std::string_view ns, const json& object,
                                     const kube::ApplyOptions&) {
  std::lock_guard lock(mutex_);
  return write("patchStatus-merge", type, ns, nameOf(object), object);
}

Result<json> FakeClient::patchStatus(const kube::ResourceType& type, std::string_view ns, std::string_view name,
                                     kube::PatchType, const json& patch, const kube::WriteOptions&) {
  std::lock_guard lock(mutex_);
  return write("patchStatus-merge", type, ns, name, patch);
}

}  // namespace warren::testing
