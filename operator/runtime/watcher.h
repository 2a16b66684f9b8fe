// Watcher: list-then-watch as an explicit state machine, as kube-rs does.
//
//   kEmpty ──► kListing (paginated; Init, InitApply…, InitDone)
//                 │
//                 ▼
//             kWatching ◄─┐ resume from the last resourceVersion seen
//                 │       │ (bookmarks included) after a timeout,
//                 │       │ disconnect or malformed line (with backoff)
//                 └───────┘
//   410 Gone (HTTP status or in-stream ERROR), or an expired continue
//   token, sends it back to kEmpty: a fresh relist that the store swaps
//   in atomically on InitDone.
//
// Each step() does one request and says how long to wait before the next,
// so the machine is driven by a fake ListerWatcher in unit tests.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "common/backoff.h"
#include "common/result.h"
#include "kube/client.h"

namespace warren::runtime {

// The I/O a watcher needs; kube::Client provides it through ClientListerWatcher.
class ListerWatcher {
 public:
  virtual ~ListerWatcher() = default;
  virtual Result<nlohmann::json> list(const kube::ListOptions& options) = 0;
  virtual Status watch(const kube::WatchOptions& options, const kube::Client::WatchHandler& handler,
                       kube::Cancellation& cancel) = 0;
};

// Lists and watches one resource type in one namespace ("" = all) with
// server-side selectors.
class ClientListerWatcher : public ListerWatcher {
 public:
  ClientListerWatcher(std::shared_ptr<kube::Client> client, kube::ResourceType type,
                      std::string ns, std::string label_selector, std::string field_selector,
                      bool metadata_only = false);
  Result<nlohmann::json> list(const kube::ListOptions& options) override;
  Status watch(const kube::WatchOptions& options, const kube::Client::WatchHandler& handler,
               kube::Cancellation& cancel) override;

 private:
  std::shared_ptr<kube::Client> client_;
  kube::ResourceType type_;
  std::string ns_, label_selector_, field_selector_;
  bool metadata_only_;
};

struct WatcherEvent {
  enum class Type { kInit, kInitApply, kInitDone, kApply, kDelete };
  Type type;
  nlohmann::json object;  // empty for kInit and kInitDone
};
using WatcherSink = std::function<void(WatcherEvent&&)>;

struct WatcherSettings {
  int page_size = 50;  // a page in flight is its body and its whole parsed tree: kept small
  std::chrono::seconds min_watch_timeout{300};
  std::chrono::seconds max_watch_timeout{600};
  Backoff::Settings backoff{};  // 0.8 s doubling to 30 s, jitter, reset after 2 min
  std::string name;             // for logs and metrics
};

class Watcher {
 public:
  enum class State { kEmpty, kListing, kWatching };

  Watcher(std::shared_ptr<ListerWatcher> source, WatcherSettings settings);

  // One request; returns the delay before the next step.
  std::chrono::milliseconds step(const WatcherSink& sink, kube::Cancellation& cancel);
  // Steps until `cancel` fires.
  void run(const WatcherSink& sink, kube::Cancellation& cancel);

  State state() const { return state_; }
  const std::string& resourceVersion() const { return resource_version_; }
  int relists() const { return relists_; }
  int watchStarts() const { return watch_starts_; }

 private:
  std::chrono::milliseconds fail(const Error& error, const char* during);
  std::chrono::milliseconds stepList(const WatcherSink& sink);
  std::chrono::milliseconds stepWatch(const WatcherSink& sink, kube::Cancellation& cancel);
  int randomWatchTimeout();

  std::shared_ptr<ListerWatcher> source_;
  WatcherSettings settings_;
  Backoff backoff_;
  std::mt19937 random_{std::random_device{}()};
  State state_ = State::kEmpty;
  std::string continue_token_;
  std::string resource_version_;
  int relists_ = 0;
  int watch_starts_ = 0;
};

}  // namespace warren::runtime
