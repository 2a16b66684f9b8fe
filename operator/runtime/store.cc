#include "runtime/store.h"

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

Store::Store() {
  index_fns_[kNamespaceIndex] = namespaceIndex;
  index_fns_[kControllerUidIndex] = controllerUidIndex;
}

void Store::addIndex(const std::string& name, IndexFunc fn) {
  std::unique_lock lock(mutex_);
  index_fns_[name] = std::move(fn);
}

void Store::indexLocked(const std::string& key, const nlohmann::json& object, bool add) {
  for (const auto& [name, fn] : index_fns_) {
    auto& index = indexes_[name];
    std::vector<std::string> values;
    try {
      values = fn(object);
    } catch (const std::exception& e) {
      // The boundary for user index functions: the object stays cached, just not in this index.
      if (index_error_) index_error_(key, "index " + name + ": " + e.what());
      continue;
    }
    for (const auto& value : values) {
      if (add) {
        index[value].insert(key);
      } else if (auto it = index.find(value); it != index.end()) {
        it->second.erase(key);
        if (it->second.empty()) index.erase(it);
      }
    }
  }
}

ObjectPtr Store::upsert(ObjectPtr object) {
  const std::string key = objectKey(*object);
  std::unique_lock lock(mutex_);
  ObjectPtr previous;
  if (auto it = objects_.find(key); it != objects_.end()) {
    previous = it->second;
    indexLocked(key, *previous, false);
  }
  indexLocked(key, *object, true);
  objects_[key] = std::move(object);
  return previous;
}

ObjectPtr Store::remove(const nlohmann::json& object) {
  const std::string key = objectKey(object);
  std::unique_lock lock(mutex_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return nullptr;
  ObjectPtr previous = it->second;
  indexLocked(key, *previous, false);
  objects_.erase(it);
  return previous;
}

std::vector<Store::Change> Store::replace(std::vector<ObjectPtr> objects) {
  std::unordered_map<std::string, ObjectPtr> fresh;
  fresh.reserve(objects.size());
  for (auto& object : objects) fresh[objectKey(*object)] = std::move(object);

  std::unique_lock lock(mutex_);
  std::vector<Change> changes;
  for (const auto& [key, object] : fresh) {
    auto old = objects_.find(key);
    if (old == objects_.end()) {
      changes.push_back({nullptr, object});
    } else if (resourceVersionOf(*old->second) != resourceVersionOf(*object)) {
      changes.push_back({old->second, object});
    }
  }
  for (const auto& [key, object] : objects_) {
    if (fresh.count(key) == 0) changes.push_back({object, nullptr});
  }
  objects_ = std::move(fresh);
  indexes_.clear();
  for (const auto& [key, object] : objects_) indexLocked(key, *object, true);
  return changes;
}

ObjectPtr Store::get(const std::string& key) const {
  std::shared_lock lock(mutex_);
  const auto it = objects_.find(key);
  return it == objects_.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> Store::list() const {
  std::shared_lock lock(mutex_);
  std::vector<ObjectPtr> out;
  out.reserve(objects_.size());
  for (const auto& [key, object] : objects_) out.push_back(object);
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
    if (auto it = objects_.find(key); it != objects_.end()) out.push_back(it->second);
  }
  return out;
}

std::vector<std::string> Store::keys() const {
  std::shared_lock lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [key, object] : objects_) out.push_back(key);
  return out;
}

size_t Store::size() const {
  std::shared_lock lock(mutex_);
  return objects_.size();
}

}  // namespace warren::runtime
