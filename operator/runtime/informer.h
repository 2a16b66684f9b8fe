// Informer: a Watcher feeding a Store on its own thread, with event handlers
// and a synced signal. Transforms, index functions and handlers are
// guarded: one that throws is counted (warren_informer_callback_errors_total),
// logged once per object, and skipped; the informer thread carries on and
// the event is not redelivered. Selectors are applied by the server, so objects the
// operator does not care about are never held in memory; managedFields are
// dropped before caching for the same reason.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "runtime/store.h"
#include "runtime/watcher.h"

namespace warren::runtime {

struct EventHandler {
  std::function<void(const ObjectPtr&)> on_add;
  std::function<void(const ObjectPtr& old_object, const ObjectPtr& new_object)> on_update;
  std::function<void(const ObjectPtr&)> on_delete;
};

struct InformerOptions {
  InformerOptions(kube::ResourceType resource_type, std::string namespace_name = "", std::string labels = "",
                  std::string fields = "")
      : type(std::move(resource_type)), ns(std::move(namespace_name)), label_selector(std::move(labels)),
        field_selector(std::move(fields)) {}

  kube::ResourceType type;
  std::string ns;  // "" = all namespaces
  std::string label_selector;
  std::string field_selector;
  // Drop metadata.managedFields and kubectl's last-applied-configuration
  // annotation before caching (and before the transform).
  bool drop_managed_fields = true;
  // Cache only each object's metadata (PartialObjectMetadata): enough to
  // notice that an object appeared, changed or went, without holding its
  // content.
  bool metadata_only = false;
  WatcherSettings watcher;
  // Applied to every object before it is cached (after managedFields are
  // dropped), e.g. to keep only the fields a controller reads. Informers
  // with transforms are shared only when both name the same, non-empty
  // transform_name.
  std::function<void(nlohmann::json&)> transform;
  std::string transform_name;
  // An update whose cached form equals the previous one but for
  // metadata.resourceVersion is stored without calling the handlers: for
  // caches whose transform drops what changes all the time (a Node's
  // heartbeats), so those changes wake no controller. Never for
  // metadata-only caches, where the resourceVersion is the change.
  bool skip_unchanged_updates = false;
};

class Informer {
 public:
  Informer(std::shared_ptr<ListerWatcher> source, InformerOptions options);
  // Lists and watches through `client`.
  static std::shared_ptr<Informer> forClient(std::shared_ptr<kube::Client> client,
                                             InformerOptions options);
  ~Informer();

  // Handlers and indexes must be added before start().
  void addHandler(EventHandler handler);
  void addIndex(const std::string& name, IndexFunc fn) { store_.addIndex(name, std::move(fn)); }

  void start();
  void stop();
  bool hasSynced() const { return synced_.load(); }
  bool waitForSync(std::chrono::milliseconds timeout);

  const Store& store() const { return store_; }
  const kube::ResourceType& type() const { return options_.type; }
  const InformerOptions& options() const { return options_; }
  const Watcher& watcher() const { return watcher_; }

  // Applies one watcher event (public for tests that drive it directly).
  void apply(WatcherEvent&& event);

 private:
  ObjectPtr prepare(nlohmann::json&& object);
  // Runs a handler; an exception is reported, never propagated.
  void guarded(const char* stage, const ObjectPtr& object, const std::function<void()>& call);
  void reportError(const char* stage, const std::string& key, const std::string& what);

  InformerOptions options_;
  Watcher watcher_;
  Store store_;
  std::vector<EventHandler> handlers_;
  std::vector<Store::Entry> relist_buffer_;
  std::atomic<bool> synced_{false};
  std::mutex sync_mutex_;
  std::condition_variable sync_changed_;
  kube::Cancellation cancel_;
  std::thread thread_;
  std::mutex reported_mutex_;
  std::set<std::string> reported_;  // stage + key already logged (bounded)
};

}  // namespace warren::runtime
