#include "api/field_reader.h"

#include <limits>

namespace warren::api {

using nlohmann::json;

Error invalidField(const std::string& path, const std::string& what) {
  return Error::terminalError("InvalidSpec", path + ": " + what);
}

FieldReader::FieldReader(const json* node, std::string path)
    : FieldReader(node, std::move(path), std::make_shared<std::optional<Error>>()) {}

FieldReader::FieldReader(const json* node, std::string path, std::shared_ptr<std::optional<Error>> error)
    : node_(node), path_(std::move(path)), error_(std::move(error)) {}

std::string FieldReader::pathOf(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  return path_ + "." + std::string(key);
}

const json* FieldReader::find(std::string_view key) const {
  if (node_ == nullptr || !node_->is_object()) return nullptr;
  const auto it = node_->find(key);
  if (it == node_->end() || it->is_null()) return nullptr;
  return &*it;
}

bool FieldReader::has(std::string_view key) const { return find(key) != nullptr; }

void FieldReader::fail(std::string_view key, const std::string& what) {
  if (!error_->has_value()) *error_ = invalidField(pathOf(key), what);
}

void FieldReader::failHere(const std::string& what) {
  if (!error_->has_value()) *error_ = invalidField(path_, what);
}

Status FieldReader::status() const {
  if (error_->has_value()) return **error_;
  return okStatus();
}

FieldReader FieldReader::object(std::string_view key) {
  const json* value = find(key);
  if (value != nullptr && !value->is_object()) {
    fail(key, "must be an object");
    value = nullptr;
  }
  return FieldReader(value, pathOf(key), error_);
}

std::vector<FieldReader> FieldReader::items(std::string_view key) {
  std::vector<FieldReader> out;
  const json* value = find(key);
  if (value == nullptr) return out;
  if (!value->is_array()) {
    fail(key, "must be an array");
    return out;
  }
  out.reserve(value->size());
  for (size_t i = 0; i < value->size(); ++i) {
    out.push_back(FieldReader(&(*value)[i], pathOf(key) + "[" + std::to_string(i) + "]", error_));
  }
  return out;
}

void FieldReader::read(std::string_view key, std::string& out) {
  const json* value = find(key);
  if (value == nullptr) return;
  if (!value->is_string()) return fail(key, "must be a string");
  out = value->get<std::string>();
}

void FieldReader::read(std::string_view key, bool& out) {
  const json* value = find(key);
  if (value == nullptr) return;
  if (!value->is_boolean()) return fail(key, "must be a boolean");
  out = value->get<bool>();
}

void FieldReader::read(std::string_view key, long long& out) {
  const json* value = find(key);
  if (value == nullptr) return;
  if (value->is_number_unsigned()) {
    const auto v = value->get<unsigned long long>();
    if (v > static_cast<unsigned long long>(std::numeric_limits<long long>::max())) return fail(key, "is out of range");
    out = static_cast<long long>(v);
    return;
  }
  if (!value->is_number_integer()) return fail(key, "must be an integer");
  out = value->get<long long>();
}

void FieldReader::read(std::string_view key, int& out) {
  long long wide = out;
  const bool was_ok = ok();
  read(key, wide);
  if (was_ok && !ok()) return;
  if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max()) {
    return fail(key, "is out of range");
  }
  out = static_cast<int>(wide);
}

void FieldReader::read(std::string_view key, std::vector<std::string>& out) {
  const json* value = find(key);
  if (value == nullptr) return;
  if (!value->is_array()) return fail(key, "must be an array of strings");
  std::vector<std::string> strings;
  for (size_t i = 0; i < value->size(); ++i) {
    if (!(*value)[i].is_string()) return fail(std::string(key) + "[" + std::to_string(i) + "]", "must be a string");
    strings.push_back((*value)[i].get<std::string>());
  }
  out = std::move(strings);
}

void FieldReader::read(std::string_view key, std::map<std::string, std::string>& out) {
  const json* value = find(key);
  if (value == nullptr) return;
  if (!value->is_object()) return fail(key, "must be an object of strings");
  std::map<std::string, std::string> strings;
  for (const auto& [k, v] : value->items()) {
    if (!v.is_string()) return fail(std::string(key) + "." + k, "must be a string");
    strings[k] = v.get<std::string>();
  }
  out = std::move(strings);
}

void FieldReader::readObject(std::string_view key, json& out) {
  const json* value = find(key);
  if (value == nullptr) return;
  if (!value->is_object()) return fail(key, "must be an object");
  out = *value;
}

void FieldReader::readObjectArray(std::string_view key, json& out) {
  const json* value = find(key);
  if (value == nullptr) return;
  if (!value->is_array()) return fail(key, "must be an array");
  for (size_t i = 0; i < value->size(); ++i) {
    if (!(*value)[i].is_object()) return fail(std::string(key) + "[" + std::to_string(i) + "]", "must be an object");
  }
  out = *value;
}

void FieldReader::require(std::string_view key, std::string& out) {
  if (!has(key)) return fail(key, "is required");
  read(key, out);
}

ObjectIdentity readIdentity(FieldReader& root) {
  ObjectIdentity identity;
  FieldReader metadata = root.object("metadata");
  metadata.require("name", identity.name);
  metadata.read("namespace", identity.ns);
  metadata.read("uid", identity.uid);
  metadata.read("generation", identity.generation);
  metadata.read("annotations", identity.annotations);
  if (!root.has("spec")) root.fail("spec", "is required");
  return identity;
}

void readClusterRef(FieldReader& spec, std::string& name, std::string* ns) {
  if (!spec.has("brokerClusterRef")) spec.fail("brokerClusterRef", "is required");
  FieldReader ref = spec.object("brokerClusterRef");
  ref.require("name", name);
  if (ref.ok() && name.empty()) ref.fail("name", "must not be empty");
  if (ns != nullptr) ref.read("namespace", *ns);
}

}  // namespace warren::api
