#include "runtime/object_helpers.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <optional>
#include <ctime>

#include "common/log.h"
#include "kube/tls_material.h"

namespace warren::runtime {
namespace {

const nlohmann::json* finalizersOf(const nlohmann::json& object) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return nullptr;
  const auto finalizers = metadata->find("finalizers");
  if (finalizers == metadata->end() || !finalizers->is_array()) return nullptr;
  return &*finalizers;
}

std::string objectNameOf(const nlohmann::json& object) {
  return object.value("/metadata/name"_json_pointer, std::string());
}

std::string objectNamespaceOf(const nlohmann::json& object) {
  return object.value("/metadata/namespace"_json_pointer, std::string());
}

// The finalizer patches carry a `test` of what the cached copy held. When the server's copy differs (the cache
// was behind, e.g. our own earlier finalizer write not yet seen), the API server answers 422: that is optimistic
// concurrency doing its job, retried on fresh data like a 409, not a rejected request.
Result<nlohmann::json> guardedFinalizerPatch(kube::ObjectWriter& writer, const kube::ResourceType& type,
                                             const nlohmann::json& object, const nlohmann::json& patch) {
  auto patched = writer.patch(type, objectNamespaceOf(object), objectNameOf(object), kube::PatchType::kJson, patch, {});
  if (!patched && patched.error().http_status == 422) {
    return Error{409, "Conflict", "finalizers changed since the cached copy: " + patched.error().message};
  }
  return patched;
}

}  // namespace

nlohmann::json controllerReference(const nlohmann::json& owner) {
  return {{"apiVersion", owner.value("apiVersion", "")},
          {"kind", owner.value("kind", "")},
          {"name", objectNameOf(owner)},
          {"uid", owner.value("/metadata/uid"_json_pointer, std::string())},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

bool hasFinalizer(const nlohmann::json& object, const std::string& finalizer) {
  const auto* finalizers = finalizersOf(object);
  if (finalizers == nullptr) return false;
  for (const auto& f : *finalizers) {
    if (f == finalizer) return true;
  }
  return false;
}

nlohmann::json addFinalizerPatch(const nlohmann::json& object, const std::string& finalizer) {
  if (hasFinalizer(object, finalizer)) return nlohmann::json::array();
  const auto* finalizers = finalizersOf(object);
  if (finalizers == nullptr || finalizers->empty()) {
    // Guard: still no finalizers at all.
    return nlohmann::json::array(
        {{{"op", "test"}, {"path", "/metadata/finalizers"}, {"value", nullptr}},
         {{"op", "add"}, {"path", "/metadata/finalizers"}, {"value", {finalizer}}}});
  }
  return nlohmann::json::array(
      {{{"op", "test"}, {"path", "/metadata/finalizers"}, {"value", *finalizers}},
       {{"op", "add"}, {"path", "/metadata/finalizers/-"}, {"value", finalizer}}});
}

nlohmann::json removeFinalizerPatch(const nlohmann::json& object, const std::string& finalizer) {
  const auto* finalizers = finalizersOf(object);
  if (finalizers == nullptr) return nlohmann::json::array();
  for (size_t i = 0; i < finalizers->size(); ++i) {
    if ((*finalizers)[i] == finalizer) {
      const std::string path = "/metadata/finalizers/" + std::to_string(i);
      return nlohmann::json::array({{{"op", "test"}, {"path", path}, {"value", finalizer}},
                                    {{"op", "remove"}, {"path", path}}});
    }
  }
  return nlohmann::json::array();
}

Result<nlohmann::json> addFinalizer(kube::ObjectWriter& writer, const kube::ResourceType& type,
                                    const nlohmann::json& object, const std::string& finalizer) {
  const auto patch = addFinalizerPatch(object, finalizer);
  if (patch.empty()) return object;
  return guardedFinalizerPatch(writer, type, object, patch);
}

Result<nlohmann::json> removeFinalizer(kube::ObjectWriter& writer, const kube::ResourceType& type,
                                       const nlohmann::json& object, const std::string& finalizer) {
  const auto patch = removeFinalizerPatch(object, finalizer);
  if (patch.empty()) return object;
  return guardedFinalizerPatch(writer, type, object, patch);
}

const nlohmann::json* findCondition(const nlohmann::json& conditions, const std::string& type) {
  if (!conditions.is_array()) return nullptr;
  for (const auto& c : conditions) {
    if (c.is_object() && c.value("type", "") == type) return &c;
  }
  return nullptr;
}

bool setCondition(nlohmann::json& conditions, const Condition& condition,
                  long long observed_generation, std::chrono::system_clock::time_point now) {
  if (!conditions.is_array()) conditions = nlohmann::json::array();
  for (auto& c : conditions) {
    if (!c.is_object() || c.value("type", "") != condition.type) continue;
    bool changed = false;
    if (c.value("status", "") != condition.status) {
      c["status"] = condition.status;
      c["lastTransitionTime"] = formatTime(now);
      changed = true;
    }
    auto assign = [&](const char* key, const nlohmann::json& value) {
      if (!c.contains(key) || c[key] != value) {
        c[key] = value;
        changed = true;
      }
    };
    assign("reason", condition.reason);
    assign("message", condition.message);
    assign("observedGeneration", observed_generation);
    return changed;
  }
  conditions.push_back({{"type", condition.type},
                        {"status", condition.status},
                        {"reason", condition.reason},
                        {"message", condition.message},
                        {"observedGeneration", observed_generation},
                        {"lastTransitionTime", formatTime(now)}});
  return true;
}

nlohmann::json mergePatchFrom(const nlohmann::json& before, const nlohmann::json& after) {
  if (!before.is_object() || !after.is_object()) return after;
  nlohmann::json patch = nlohmann::json::object();
  for (const auto& [key, value] : before.items()) {
    if (!after.contains(key)) patch[key] = nullptr;
  }
  for (const auto& [key, value] : after.items()) {
    const auto old = before.find(key);
    if (old == before.end()) {
      patch[key] = value;
    } else if (*old != value) {
      patch[key] = old->is_object() && value.is_object() ? mergePatchFrom(*old, value) : value;
    }
  }
  return patch;
}

Status patchStatusIfChanged(kube::StatusWriter& writer, const kube::ResourceType& type, const std::string& ns,
                            const std::string& name, const std::string& resource_version, const nlohmann::json& before,
                            const nlohmann::json& after, const std::string& field_manager) {
  if (after == before) return okStatus();
  nlohmann::json patch = {{"status", mergePatchFrom(before.is_object() ? before : nlohmann::json::object(), after)}};
  if (!resource_version.empty()) patch["metadata"] = {{"resourceVersion", resource_version}};
  auto patched = writer.patchStatus(type, ns, name, kube::PatchType::kMerge, patch, {field_manager, false});
  if (!patched && !patched.error().isNotFound()) return patched.error();
  return okStatus();
}

std::string formatTime(std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string formatMicroTime(std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count() % 1000000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[48];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[64];
  std::snprintf(out, sizeof out, "%s.%06lldZ", buf, static_cast<long long>(micros));
  return out;
}

}  // namespace warren::runtime

namespace warren::runtime {

std::string secretValue(const nlohmann::json& secret, const std::string& key) {
  const auto data = secret.find("data");
  if (data == secret.end() || !data->is_object()) return "";
  const auto value = data->find(key);
  if (value == data->end() || !value->is_string()) return "";
  auto decoded = kube::base64Decode(value->get_ref<const std::string&>());
  return decoded ? *decoded : std::string();
}

std::string stringAt(const nlohmann::json& object, const nlohmann::json::json_pointer& pointer) {
  try {
    if (!object.contains(pointer)) return "";
    const auto& value = object.at(pointer);
    return value.is_string() ? value.get<std::string>() : "";
  } catch (const nlohmann::json::exception&) {
    return "";
  }
}

std::optional<long double> parseQuantity(const std::string& text) {
  // <number><suffix>: a decimal (with an optional exponent), then a binary (Ki..Ei) or decimal (n..E) suffix.
  size_t end = 0;
  while (end < text.size() && (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.' ||
                               ((text[end] == '+' || text[end] == '-') && end == 0))) {
    ++end;
  }
  if (end == 0) return std::nullopt;
  long double value = 0;
  try {
    size_t used = 0;
    value = std::stold(text.substr(0, end), &used);
    if (used != end) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  std::string suffix = text.substr(end);
  if (suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E') &&
      suffix.find_first_not_of("0123456789+-", 1) == std::string::npos) {
    try {
      return value * std::pow(10.0L, std::stold(suffix.substr(1)));
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  static const std::pair<const char*, long double> kSuffixes[] = {
      {"", 1.0L}, {"Ki", 1024.0L}, {"Mi", 1048576.0L}, {"Gi", 1073741824.0L}, {"Ti", 1099511627776.0L},
      {"Pi", 1125899906842624.0L}, {"Ei", 1152921504606846976.0L}, {"n", 1e-9L}, {"u", 1e-6L}, {"m", 1e-3L},
      {"k", 1e3L}, {"M", 1e6L}, {"G", 1e9L}, {"T", 1e12L}, {"P", 1e15L}, {"E", 1e18L}};
  for (const auto& [name, factor] : kSuffixes) {
    if (suffix == name) return value * factor;
  }
  return std::nullopt;
}

namespace {

// `quantities`: the values below are resource quantities (under requests,
// limits or capacity), which the server may write in another unit.
bool containsAllAt(const nlohmann::json& live, const nlohmann::json& desired, bool quantities) {
  if (desired.is_object()) {
    if (!live.is_object()) return false;
    for (const auto& [key, value] : desired.items()) {
      const auto it = live.find(key);
      if (it == live.end()) {
        if (value.is_object() && value.empty()) continue;  // {} is dropped by the server
        return false;
      }
      const bool below_quantities = quantities || key == "requests" || key == "limits" || key == "capacity";
      if (!containsAllAt(*it, value, below_quantities)) return false;
    }
    return true;
  }
  if (desired.is_array()) {
    if (!live.is_array() || live.size() != desired.size()) return false;
    for (size_t i = 0; i < desired.size(); ++i) {
      if (!containsAllAt(live[i], desired[i], quantities)) return false;
    }
    return true;
  }
  if (desired.is_number() && live.is_number()) return desired.get<double>() == live.get<double>();
  if (quantities && desired != live) {
    // "1024Mi" is stored as "1Gi", "0.5" as "500m": equal quantities are equal.
    const auto text = [](const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
    const auto a = parseQuantity(text(desired));
    const auto b = parseQuantity(text(live));
    return a && b && std::fabs(*a - *b) <= 1e-9L * std::max(1.0L, std::fabs(*a));
  }
  return desired == live;
}

}  // namespace

bool containsAll(const nlohmann::json& live, const nlohmann::json& desired) {
  return containsAllAt(live, desired, false);
}

std::string controllerUid(const nlohmann::json& object) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  const auto owners = metadata->find("ownerReferences");
  if (owners == metadata->end() || !owners->is_array()) return "";
  for (const auto& owner : *owners) {
    if (!owner.is_object()) continue;
    const auto controller = owner.find("controller");
    if (controller == owner.end() || !controller->is_boolean() || !controller->get<bool>()) continue;
    const auto uid = owner.find("uid");
    return uid != owner.end() && uid->is_string() ? uid->get<std::string>() : "";
  }
  return "";
}

bool isControlledBy(const nlohmann::json& object, const std::string& owner_uid) {
  return !owner_uid.empty() && controllerUid(object) == owner_uid;
}

Error notOwnedError(const kube::ResourceType& type, const nlohmann::json& live) {
  const std::string ns = objectNamespaceOf(live);
  const std::string name = objectNameOf(live);
  return Error::terminalError("NotOwned", type.kind + " " + (ns.empty() ? "" : ns + "/") + name +
                                              " exists and is not managed by this object; warren leaves it as it is "
                                              "(rename or delete it to let warren create its own)");
}

Status applyOwned(kube::ObjectReader& reader, kube::ObjectWriter& writer, const kube::ResourceType& type,
                  const std::string& ns, const nlohmann::json* cached, const nlohmann::json& desired,
                  const std::string& field_manager) {
  const std::string owner = controllerUid(desired);
  if (cached != nullptr) {
    if (!owner.empty() && !isControlledBy(*cached, owner)) return notOwnedError(type, *cached);
    if (containsAll(*cached, desired)) return okStatus();
  } else if (!owner.empty()) {
    auto live = reader.get(type, ns, objectNameOf(desired));
    if (live) {
      if (!isControlledBy(*live, owner)) return notOwnedError(type, *live);
    } else if (!live.error().isNotFound()) {
      return live.error();
    }
  }
  auto applied = writer.apply(type, ns, desired, {field_manager, true});
  if (!applied) return applied.error();
  log::info("applied", {log::Field("kind", type.kind), log::Field("namespace", ns),
                        log::Field("name", objectNameOf(desired))});
  return okStatus();
}

Status createOrUpdateData(kube::ObjectReader& reader, kube::ObjectWriter& writer, const kube::ResourceType& type,
                          const nlohmann::json& fresh, const std::string& field_manager) {
  const std::string ns = objectNamespaceOf(fresh);
  const std::string name = objectNameOf(fresh);
  auto live = reader.get(type, ns, name);
  if (!live) {
    if (!live.error().isNotFound()) return live.error();
    if (auto created = writer.create(type, ns, fresh, {field_manager, false}); !created) return created.error();
    log::info("created", {log::Field("kind", type.kind), log::Field("namespace", ns), log::Field("name", name)});
    return okStatus();
  }
  if (!isControlledBy(*live, controllerUid(fresh))) return notOwnedError(type, *live);
  const nlohmann::json& data = fresh.contains("data") ? fresh["data"] : nlohmann::json::object();
  // Labels warren sets (an object made by an older version may lack one) are added; others are kept.
  const nlohmann::json labels = fresh.value("/metadata/labels"_json_pointer, nlohmann::json::object());
  const nlohmann::json live_labels = live->value("/metadata/labels"_json_pointer, nlohmann::json::object());
  const bool labels_missing = !containsAll(live_labels, labels);
  if (live->value("data", nlohmann::json::object()) == data && !labels_missing) return okStatus();
  nlohmann::json updated = std::move(*live);
  updated["data"] = data;
  for (const auto& [key, value] : labels.items()) updated["metadata"]["labels"][key] = value;
  // The update carries the resourceVersion read above: a concurrent change is a Conflict, retried.
  if (auto written = writer.update(type, ns, updated, {field_manager, false}); !written) return written.error();
  // Names only: the data may be credentials.
  log::info("updated data", {log::Field("kind", type.kind), log::Field("namespace", ns), log::Field("name", name)});
  return okStatus();
}

void pruneTo(nlohmann::json& object, const std::vector<nlohmann::json::json_pointer>& keep) {
  if (!object.is_object()) return;
  nlohmann::json pruned = nlohmann::json::object();
  for (const char* field : {"apiVersion", "kind", "metadata"}) {
    if (auto it = object.find(field); it != object.end()) pruned[field] = std::move(*it);
  }
  for (const auto& pointer : keep) {
    if (object.contains(pointer)) pruned[pointer] = std::move(object[pointer]);
  }
  object = std::move(pruned);
}

namespace {

void keepMetadataFields(nlohmann::json& object, std::initializer_list<const char*> fields) {
  if (!object.is_object()) return;
  const auto metadata = object.find("metadata");
  nlohmann::json kept = nlohmann::json::object();
  if (metadata != object.end() && metadata->is_object()) {
    for (const char* field : fields) {
      if (auto it = metadata->find(field); it != metadata->end()) kept[field] = std::move(*it);
    }
  }
  object = {{"metadata", std::move(kept)}};
}

}  // namespace

void keepIdentityOnly(nlohmann::json& object) { keepMetadataFields(object, {"name", "namespace", "resourceVersion"}); }

void keepIdentityAndOwnership(nlohmann::json& object) {
  keepMetadataFields(object, {"name", "namespace", "resourceVersion", "labels", "ownerReferences"});
}

}  // namespace warren::runtime
