// Store: the informer's thread-safe cache of objects, keyed "namespace/name"
// (or "name" when cluster-scoped), with the indexes its users add. Objects
// are held packed (MessagePack, deflated: compact_bytes.h; about a tenth of
// nlohmann's tree) and
// unpacked on every read into an immutable shared_ptr the reader owns, so
// readers never see a half-written object. A relist is applied with
// replace(), which swaps in the new contents at once and reports what was
// added, updated and deleted.
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

// Indexes a user may add (none is built in: each costs memory per object).
inline constexpr const char* kNamespaceIndex = "namespace";
inline constexpr const char* kControllerUidIndex = "controller-uid";
std::vector<std::string> namespaceIndex(const nlohmann::json& object);
// The uid of the object's controller ownerReference.
std::vector<std::string> controllerUidIndex(const nlohmann::json& object);

class Store {
 public:
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
  // One object as the store holds it: its packed bytes, the resourceVersion
  // a relist compares, and the (index, value) pairs it is filed under.
  struct Entry {
    std::string key;
    std::string packed;
    std::string resource_version;
    std::vector<std::pair<std::string, std::string>> indexed;
  };
  // Packs an object outside the lock (indexes must all be added by then),
  // so a relist holds one page of trees at a time, not the whole list.
  Entry pack(const nlohmann::json& object) const;
  static ObjectPtr unpack(const Entry& entry);

  // Replaces all contents; returns the differences (unchanged
  // resourceVersions are not reported). Adds and updates carry only their
  // key: the new object is read with get(), one at a time.
  struct Change {
    std::string key;
    ObjectPtr old_object;  // null for an add
    bool deleted = false;
  };
  std::vector<Change> replace(std::vector<Entry> entries);

  ObjectPtr get(const std::string& key) const;
  // The resourceVersion of the object at `key` ("" when it is not cached),
  // without unpacking it.
  std::string resourceVersionAt(const std::string& key) const;
  std::vector<ObjectPtr> list() const;
  std::vector<ObjectPtr> byIndex(const std::string& index, const std::string& value) const;
  std::vector<std::string> keys() const;
  size_t size() const;

 private:
  void fileLocked(const std::string& key, const Entry& entry);
  void unfileLocked(const std::string& key, const Entry& entry);

  std::function<void(const std::string& key, const std::string& what)> index_error_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, Entry> objects_;
  std::map<std::string, IndexFunc> index_fns_;
  std::map<std::string, std::unordered_map<std::string, std::set<std::string>>> indexes_;
};

}  // namespace warren::runtime
