#include "runtime/watcher.h"

#include <semaphore>

#include "common/log.h"
#include "runtime/metrics.h"

namespace warren::runtime {
namespace {

constexpr std::chrono::seconds kVeryShortWatch{1};

struct WatcherMetrics {
  metrics::Family<metrics::Counter>& restarts = metrics::registry().counter(
      "warren_watch_restarts_total", "Watches (re)started, per resource.", {"resource"});
  metrics::Family<metrics::Counter>& relists = metrics::registry().counter(
      "warren_watch_relists_total", "Full relists (initial, or after 410 Gone), per resource.",
      {"resource"});
  metrics::Family<metrics::Counter>& events = metrics::registry().counter(
      "warren_watch_events_total", "Watch events received, per resource.", {"resource"});
};

WatcherMetrics& watcherMetrics() {
  static WatcherMetrics instance;
  return instance;
}

}  // namespace

ClientListerWatcher::ClientListerWatcher(std::shared_ptr<kube::Client> client,
                                         kube::ResourceType type, std::string ns,
                                         std::string label_selector, std::string field_selector,
                                         bool metadata_only)
    : client_(std::move(client)), type_(std::move(type)), ns_(std::move(ns)),
      label_selector_(std::move(label_selector)), field_selector_(std::move(field_selector)),
      metadata_only_(metadata_only) {}

Result<nlohmann::json> ClientListerWatcher::list(const kube::ListOptions& options) {
  kube::ListOptions filtered = options;
  filtered.label_selector = label_selector_;
  filtered.field_selector = field_selector_;
  filtered.metadata_only = metadata_only_;
  return client_->list(type_, ns_, filtered);
}

Status ClientListerWatcher::watch(const kube::WatchOptions& options,
                                  const kube::Client::WatchHandler& handler,
                                  kube::Cancellation& cancel) {
  kube::WatchOptions filtered = options;
  filtered.label_selector = label_selector_;
  filtered.field_selector = field_selector_;
  filtered.metadata_only = metadata_only_;
  return client_->watch(type_, ns_, filtered, handler, cancel);
}

Watcher::Watcher(std::shared_ptr<ListerWatcher> source, WatcherSettings settings)
    : source_(std::move(source)), settings_(std::move(settings)), backoff_(settings_.backoff) {}

int Watcher::randomWatchTimeout() {
  std::uniform_int_distribution<int> pick(static_cast<int>(settings_.min_watch_timeout.count()),
                                          static_cast<int>(settings_.max_watch_timeout.count()));
  return pick(random_);
}

std::chrono::milliseconds Watcher::fail(const Error& error, const char* during) {
  const auto delay = backoff_.next();
  log::warn("watch failed, retrying",
            {log::Field("resource", settings_.name), log::Field("during", during),
             log::Field("error", error.describe()),
             log::Field("retry_in_ms", static_cast<long long>(delay.count()))});
  return delay;
}

std::chrono::milliseconds Watcher::step(const WatcherSink& sink, kube::Cancellation& cancel) {
  switch (state_) {
    case State::kEmpty:
      continue_token_.clear();
      ++relists_;
      watcherMetrics().relists.with({settings_.name}).inc();
      sink(WatcherEvent{WatcherEvent::Type::kInit, {}});
      state_ = State::kListing;
      return stepList(sink);
    case State::kListing:
      return stepList(sink);
    case State::kWatching:
      return stepWatch(sink, cancel);
  }
  return std::chrono::milliseconds(0);
}

std::chrono::milliseconds Watcher::stepList(const WatcherSink& sink) {
  // A page in flight is its body and its parsed tree until the informer has packed its objects. At a start
  // every informer lists at once (N=300 clusters: ~15 MiB of bodies and trees with fourteen informers); two
  // pages at a time across the process keep that peak low. The page is released before the gate is.
  static std::counting_semaphore<2> pages_in_flight(2);
  pages_in_flight.acquire();
  struct Release {
    ~Release() { pages_in_flight.release(); }
  } release;
  kube::ListOptions options;
  options.limit = settings_.page_size;
  options.continue_token = continue_token_;
  auto page = source_->list(options);
  if (!page) {
    if (page.error().isGone() && !continue_token_.empty()) {
      // The continue token expired mid-list: start the list over.
      state_ = State::kEmpty;
    }
    return fail(page.error(), "list");
  }
  if (auto items = page->find("items"); items != page->end() && items->is_array()) {
    for (auto& item : *items) sink(WatcherEvent{WatcherEvent::Type::kInitApply, std::move(item)});
  }
  const auto& metadata = (*page)["metadata"];
  continue_token_ = metadata.is_object() ? metadata.value("continue", "") : "";
  if (!continue_token_.empty()) return std::chrono::milliseconds(0);
  resource_version_ = metadata.is_object() ? metadata.value("resourceVersion", "") : "";
  sink(WatcherEvent{WatcherEvent::Type::kInitDone, {}});
  state_ = State::kWatching;
  return std::chrono::milliseconds(0);
}

std::chrono::milliseconds Watcher::stepWatch(const WatcherSink& sink, kube::Cancellation& cancel) {
  kube::WatchOptions options;
  options.resource_version = resource_version_;
  options.allow_bookmarks = true;
  options.timeout_seconds = randomWatchTimeout();
  ++watch_starts_;
  watcherMetrics().restarts.with({settings_.name}).inc();
  auto& events = watcherMetrics().events.with({settings_.name});
  const auto started = std::chrono::steady_clock::now();
  long long received = 0;
  const Status status = source_->watch(
      options,
      [&](kube::WatchEvent& event) {
        events.inc();
        ++received;
        const std::string rv = event.resourceVersion();
        switch (event.type) {
          case kube::WatchEventType::kAdded:
          case kube::WatchEventType::kModified:
            sink(WatcherEvent{WatcherEvent::Type::kApply, std::move(event.object)});
            break;
          case kube::WatchEventType::kDeleted:
            sink(WatcherEvent{WatcherEvent::Type::kDelete, std::move(event.object)});
            break;
          case kube::WatchEventType::kBookmark:
          case kube::WatchEventType::kError:  // the client turns ERROR into a Status
            break;
        }
        if (!rv.empty()) resource_version_ = rv;
        return !cancel.cancelled();
      },
      cancel);
  if (status) {
    // A watch the server closes at once without an event (a misbehaving server or proxy) is retried
    // with backoff, as client-go's reflector does, instead of in a hot loop.
    if (!cancel.cancelled() && received == 0 && std::chrono::steady_clock::now() - started < kVeryShortWatch) {
      return fail(Error::local("VeryShortWatch", "the watch closed within a second without an event"), "watch");
    }
    return std::chrono::milliseconds(0);  // timeout or clean close: resume
  }
  if (status.error().isGone()) {
    log::info("resourceVersion too old, relisting",
              {log::Field("resource", settings_.name), log::Field("resource_version", resource_version_)});
    state_ = State::kEmpty;
    return std::chrono::milliseconds(0);
  }
  return fail(status.error(), "watch");
}

void Watcher::run(const WatcherSink& sink, kube::Cancellation& cancel) {
  while (!cancel.cancelled()) {
    const auto delay = step(sink, cancel);
    if (delay.count() > 0) cancel.waitFor(delay);
  }
}

}  // namespace warren::runtime
