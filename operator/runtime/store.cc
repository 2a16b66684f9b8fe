#include "runtime/store.h"

#include "runtime/compact_bytes.h"

namespace warren::runtime {
namespace {

const nlohmann::json& metadataOf(const nlohmann::json& object) {
  static const nlohmann::json empty = nlohmann::json::object();
  const auto it = object.find("metadata");
  return it != object.end() && it->is_object() ? *it : empty;
}

std::string resourceVersionOf(const nlohmann::json& object) {
  return metadataOf(object).value("resourceVersion", "");
}

}  // namespace

std::string objectKey(const std::string& ns, const std::string& name) {
  return ns.empty() ? name : ns + "/" + name;
}

std::string objectKey(const nlohmann::json& object) {
  const auto& metadata = metadataOf(object);
  return objectKey(metadata.value("namespace", ""), metadata.value("name", ""));
}

std::vector<std::string> namespaceIndex(const nlohmann::json& object) {
  return {metadataOf(object).value("namespace", "")};
}

std::vector<std::string> controllerUidIndex(const nlohmann::json& object) {
  const auto& metadata = metadataOf(object);
  const auto owners = metadata.find("ownerReferences");
  if (owners == metadata.end() || !owners->is_array()) return {};
  for (const auto& owner : *owners) {
    if (owner.is_object() && owner.value("controller", false)) return {owner.value("uid", "")};
  }
  return {};
}

Store::Store() = default;

void Store::addIndex(const std::string& name, IndexFunc fn) {
  std::unique_lock lock(mutex_);
  index_fns_[name] = std::move(fn);
}

Store::Entry Store::pack(const nlohmann::json& object) const {
  Entry entry;
  entry.key = objectKey(object);
  const std::string& key = entry.key;
  entry.packed = compactObject(object);
  entry.resource_version = resourceVersionOf(object);
  for (const auto& [name, fn] : index_fns_) {
    std::vector<std::string> values;
    try {
      values = fn(object);
    } catch (const std::exception& e) {
      // The boundary for user index functions: the object stays cached, just not in this index.
      if (index_error_) index_error_(key, "index " + name + ": " + e.what());
      continue;
    }
    for (auto& value : values) entry.indexed.emplace_back(name, std::move(value));
  }
  entry.indexed.shrink_to_fit();
  return entry;
}

ObjectPtr Store::unpack(const Entry& entry) {
  return std::make_shared<const nlohmann::json>(expandObject(entry.packed));
}

void Store::fileLocked(const std::string& key, const Entry& entry) {
  for (const auto& [name, value] : entry.indexed) indexes_[name][value].insert(key);
}

void Store::unfileLocked(const std::string& key, const Entry& entry) {
  for (const auto& [name, value] : entry.indexed) {
    auto index = indexes_.find(name);
    if (index == indexes_.end()) continue;
    if (auto it = index->second.find(value); it != index->second.end()) {
      it->second.erase(key);
      if (it->second.empty()) index->second.erase(it);
    }
  }
}

ObjectPtr Store::upsert(ObjectPtr object) {
  Entry entry = pack(*object);
  const std::string key = entry.key;
  std::unique_lock lock(mutex_);
  ObjectPtr previous;
  if (auto it = objects_.find(key); it != objects_.end()) {
    previous = unpack(it->second);
    unfileLocked(key, it->second);
    it->second = std::move(entry);
    fileLocked(key, it->second);
  } else {
    fileLocked(key, objects_.emplace(key, std::move(entry)).first->second);
  }
  return previous;
}

ObjectPtr Store::remove(const nlohmann::json& object) {
  const std::string key = objectKey(object);
  std::unique_lock lock(mutex_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return nullptr;
  ObjectPtr previous = unpack(it->second);
  unfileLocked(key, it->second);
  objects_.erase(it);
  return previous;
}

std::vector<Store::Change> Store::replace(std::vector<Entry> entries) {
  std::unique_lock lock(mutex_);
  std::unordered_map<std::string, Entry> fresh;
  fresh.reserve(entries.size());
  std::vector<Change> changes;
  for (auto& entry : entries) {
    if (auto old = objects_.find(entry.key); old == objects_.end()) {
      changes.push_back({entry.key, nullptr});
    } else if (old->second.resource_version != entry.resource_version) {
      changes.push_back({entry.key, unpack(old->second)});
    }
    std::string key = entry.key;
    fresh[std::move(key)] = std::move(entry);
  }
  for (const auto& [key, entry] : objects_) {
    if (fresh.count(key) == 0) changes.push_back({key, unpack(entry), true});
  }
  objects_ = std::move(fresh);
  indexes_.clear();
  for (const auto& [key, entry] : objects_) fileLocked(key, entry);
  return changes;
}

ObjectPtr Store::get(const std::string& key) const {
  std::shared_lock lock(mutex_);
  const auto it = objects_.find(key);
  return it == objects_.end() ? nullptr : unpack(it->second);
}

std::string Store::resourceVersionAt(const std::string& key) const {
  std::shared_lock lock(mutex_);
  const auto it = objects_.find(key);
  return it == objects_.end() ? "" : it->second.resource_version;
}

std::vector<ObjectPtr> Store::list() const {
  std::shared_lock lock(mutex_);
  std::vector<ObjectPtr> out;
  out.reserve(objects_.size());
  for (const auto& [key, entry] : objects_) out.push_back(unpack(entry));
  return out;
}

std::vector<ObjectPtr> Store::byIndex(const std::string& index, const std::string& value) const {
  std::shared_lock lock(mutex_);
  std::vector<ObjectPtr> out;
  const auto by_name = indexes_.find(index);
  if (by_name == indexes_.end()) return out;
  const auto keys = by_name->second.find(value);
  if (keys == by_name->second.end()) return out;
  for (const auto& key : keys->second) {
    if (auto it = objects_.find(key); it != objects_.end()) out.push_back(unpack(it->second));
  }
  return out;
}

std::vector<std::string> Store::keys() const {
  std::shared_lock lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [key, entry] : objects_) out.push_back(key);
  return out;
}

size_t Store::size() const {
  std::shared_lock lock(mutex_);
  return objects_.size();
}

}  // namespace warren::runtime
