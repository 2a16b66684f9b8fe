// Store: the informer's thread-safe cache of objects, keyed "namespace/name"
// (or "name" when cluster-scoped), with indexes. Objects are immutable
// shared_ptrs, so readers never copy and never see a half-written object.
// A relist is applied with replace(), which swaps in the new contents at
// once and reports what was added, updated and deleted.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace warren::runtime {

using ObjectPtr = std::shared_ptr<const nlohmann::json>;
// Returns the index values of an object (none, one or many).
using IndexFunc = std::function<std::vector<std::string>(const nlohmann::json&)>;

std::string objectKey(const nlohmann::json& object);
std::string objectKey(const std::string& ns, const std::string& name);

// Built-in index names.
inline constexpr const char* kNamespaceIndex = "namespace";
inline constexpr const char* kControllerUidIndex = "controller-uid";
std::vector<std::string> namespaceIndex(const nlohmann::json& object);
// The uid of the object's controller ownerReference.
std::vector<std::string> controllerUidIndex(const nlohmann::json& object);

class Store {
 public:
  struct Change {
    ObjectPtr old_object;  // null for an add
    ObjectPtr new_object;  // null for a delete
  };

  Store();
  // Must be called before the first write.
  void addIndex(const std::string& name, IndexFunc fn);
  // Told when an index function throws (the object is then left out of
  // that index); set before the first write.
  void onIndexError(std::function<void(const std::string& key, const std::string& what)> handler) {
    index_error_ = std::move(handler);
  }

  // Inserts or replaces; returns the previous object (null if none).
  ObjectPtr upsert(ObjectPtr object);
  // Removes by the object's key; returns what was removed (null if none).
  ObjectPtr remove(const nlohmann::json& object);
  // Replaces all contents; returns the differences (unchanged
  // resourceVersions are not reported).
  std::vector<Change> replace(std::vector<ObjectPtr> objects);

  ObjectPtr get(const std::string& key) const;
  std::vector<ObjectPtr> list() const;
  std::vector<ObjectPtr> byIndex(const std::string& index, const std::string& value) const;
  std::vector<std::string> keys() const;
  size_t size() const;

 private:
  void indexLocked(const std::string& key, const nlohmann::json& object, bool add);

  std::function<void(const std::string& key, const std::string& what)> index_error_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, ObjectPtr> objects_;
  std::map<std::string, IndexFunc> index_fns_;
  std::map<std::string, std::unordered_map<std::string, std::set<std::string>>> indexes_;
};

}  // namespace warren::runtime
