#include "runtime/informer.h"

#include <malloc.h>

#include "common/log.h"
#include "runtime/metrics.h"

namespace warren::runtime {

Informer::Informer(std::shared_ptr<ListerWatcher> source, InformerOptions options)
    : options_(std::move(options)), watcher_(std::move(source), [&] {
        WatcherSettings settings = options_.watcher;
        if (settings.name.empty()) settings.name = options_.type.qualifiedName();
        return settings;
      }()) {
  store_.onIndexError([this](const std::string& key, const std::string& what) { reportError("index", key, what); });
}

void Informer::reportError(const char* stage, const std::string& key, const std::string& what) {
  const std::string resource = options_.watcher.name.empty() ? options_.type.qualifiedName() : options_.watcher.name;
  metrics::registry()
      .counter("warren_informer_callback_errors_total",
               "Transforms, index functions and event handlers that threw, per resource and stage.",
               {"resource", "stage"})
      .with({resource, stage})
      .inc();
  std::lock_guard<std::mutex> lock(reported_mutex_);
  if (reported_.size() > 1024) reported_.clear();
  if (!reported_.insert(std::string(stage) + "\n" + key).second) return;  // logged once per object
  log::error("informer callback threw; the object is skipped for it",
             {log::Field("resource", resource), log::Field("stage", stage), log::Field("key", key),
              log::Field("error", what)});
}

void Informer::guarded(const char* stage, const ObjectPtr& object, const std::function<void()>& call) {
  try {
    call();
  } catch (const std::exception& e) {
    reportError(stage, objectKey(*object), e.what());
  }
}

std::shared_ptr<Informer> Informer::forClient(std::shared_ptr<kube::Client> client,
                                              InformerOptions options) {
  auto source = std::make_shared<ClientListerWatcher>(std::move(client), options.type, options.ns,
                                                      options.label_selector, options.field_selector,
                                                      options.metadata_only);
  return std::make_shared<Informer>(std::move(source), std::move(options));
}

Informer::~Informer() { stop(); }

void Informer::addHandler(EventHandler handler) { handlers_.push_back(std::move(handler)); }

namespace {

// Whether `a` and `b` differ at most in metadata.resourceVersion.
bool sameButResourceVersion(const nlohmann::json& a, const nlohmann::json& b) {
  if (!a.is_object() || !b.is_object() || a.size() != b.size()) return a == b;
  for (auto it = a.begin(); it != a.end(); ++it) {
    const auto other = b.find(it.key());
    if (other == b.end()) return false;
    if (it.key() != "metadata" || !it->is_object() || !other->is_object()) {
      if (*it != *other) return false;
      continue;
    }
    if (it->size() != other->size()) return false;
    for (auto field = it->begin(); field != it->end(); ++field) {
      if (field.key() == "resourceVersion") continue;
      const auto same = other->find(field.key());
      if (same == other->end() || *field != *same) return false;
    }
  }
  return true;
}

}  // namespace

ObjectPtr Informer::prepare(nlohmann::json&& object) {
  // Items of typed lists carry no apiVersion/kind; cached objects always do.
  if (!object.contains("apiVersion")) object["apiVersion"] = options_.type.apiVersion();
  if (!object.contains("kind")) object["kind"] = options_.type.kind;
  if (options_.drop_managed_fields) {
    // Other clients' bookkeeping, never read by warren (nor written back: updates start from a fresh GET).
    if (auto metadata = object.find("metadata"); metadata != object.end() && metadata->is_object()) {
      metadata->erase("managedFields");
      if (auto annotations = metadata->find("annotations"); annotations != metadata->end() && annotations->is_object()) {
        annotations->erase("kubectl.kubernetes.io/last-applied-configuration");
        if (annotations->empty()) metadata->erase(annotations);
      }
    }
  }
  if (options_.transform) {
    nlohmann::json original = object;
    try {
      options_.transform(object);
    } catch (const std::exception& e) {
      // Cached as it came: correct, only bigger.
      object = std::move(original);
      reportError("transform", objectKey(object), e.what());
    }
  }
  return std::make_shared<const nlohmann::json>(std::move(object));
}

void Informer::apply(WatcherEvent&& event) {
  switch (event.type) {
    case WatcherEvent::Type::kInit:
      relist_buffer_.clear();
      return;
    case WatcherEvent::Type::kInitApply: {
      // Packed at once: a relist holds one page of trees at a time.
      const ObjectPtr object = prepare(std::move(event.object));
      relist_buffer_.push_back(store_.pack(*object));
      return;
    }
    case WatcherEvent::Type::kInitDone: {
      const auto changes = store_.replace(std::move(relist_buffer_));
      relist_buffer_.clear();
      relist_buffer_.shrink_to_fit();
      // A relist parses whole pages at once; hand the freed memory back.
      malloc_trim(0);
      for (const auto& change : changes) {
        const ObjectPtr current = change.deleted ? nullptr : store_.get(change.key);
        for (const auto& h : handlers_) {
          if (change.deleted) {
            if (h.on_delete) guarded("delete", change.old_object, [&] { h.on_delete(change.old_object); });
          } else if (!current) {
            continue;
          } else if (change.old_object) {
            if (h.on_update) guarded("update", current, [&] { h.on_update(change.old_object, current); });
          } else if (h.on_add) {
            guarded("add", current, [&] { h.on_add(current); });
          }
        }
      }
      if (!synced_.exchange(true)) {
        std::lock_guard<std::mutex> lock(sync_mutex_);
        sync_changed_.notify_all();
      }
      return;
    }
    case WatcherEvent::Type::kApply: {
      ObjectPtr object = prepare(std::move(event.object));
      ObjectPtr old = store_.upsert(object);
      if (old && options_.skip_unchanged_updates && sameButResourceVersion(*old, *object)) return;
      for (const auto& h : handlers_) {
        if (old && h.on_update) guarded("update", object, [&] { h.on_update(old, object); });
        if (!old && h.on_add) guarded("add", object, [&] { h.on_add(object); });
      }
      return;
    }
    case WatcherEvent::Type::kDelete: {
      ObjectPtr removed = store_.remove(event.object);
      ObjectPtr last = removed ? removed : prepare(std::move(event.object));
      for (const auto& h : handlers_) {
        if (h.on_delete) guarded("delete", last, [&] { h.on_delete(last); });
      }
      return;
    }
  }
}

void Informer::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] {
    watcher_.run([this](WatcherEvent&& event) { apply(std::move(event)); }, cancel_);
  });
}

void Informer::stop() {
  cancel_.cancel();
  if (thread_.joinable()) thread_.join();
}

bool Informer::waitForSync(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(sync_mutex_);
  return sync_changed_.wait_for(lock, timeout, [this] { return synced_.load(); });
}

}  // namespace warren::runtime
