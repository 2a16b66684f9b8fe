// EventRecorder: writes core/v1 Events about objects. Repeats of the same
// (object, type, reason, message) within the aggregation window bump the
// existing Event's count instead of creating a new one. Messages are
// written as given and capped at 1 KiB: callers must never put Secret data
// in them. With background delivery (what the operator uses, like
// client-go's broadcaster) record() only queues: a reconcile never waits on
// an Event, and a full queue drops the newest with a warning. Queued Events
// are written kBackgroundDelay after they were recorded, so the objects a
// burst of reconciles writes (a mass reroute's targets) go to the API
// server before its Events.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "kube/interfaces.h"

namespace warren::runtime {

inline constexpr std::chrono::milliseconds kBackgroundDelay{500};

enum class EventDelivery {
  kInline,      // record() writes before it returns (tests)
  kBackground,  // record() queues; one thread writes
};

class EventRecorder {
 public:
  EventRecorder(std::shared_ptr<kube::ObjectWriter> writer, std::string component,
                EventDelivery delivery = EventDelivery::kInline,
                std::chrono::minutes aggregation_window = std::chrono::minutes(10));
  // Events still queued are dropped (counted in the log).
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // type: "Normal" or "Warning". Failures are logged, never returned:
  // events are best effort.
  void record(const nlohmann::json& object, const std::string& type, const std::string& reason,
              const std::string& message);

  // Returns once every Event queued so far has been written or given up.
  void flush();

  // The Event that would be created (for tests).
  nlohmann::json buildEvent(const nlohmann::json& object, const std::string& type,
                            const std::string& reason, const std::string& message,
                            std::chrono::system_clock::time_point now) const;

 private:
  struct Pending {
    nlohmann::json object;  // apiVersion, kind and the metadata an Event names
    std::string type, reason, message;
    std::chrono::steady_clock::time_point due;  // background delivery: not written before
  };
  void deliver(const Pending& pending);
  void runQueue();

  struct Seen {
    std::string event_name;
    std::string ns;
    int count = 0;
    std::chrono::steady_clock::time_point last;
  };

  std::shared_ptr<kube::ObjectWriter> writer_;
  const std::string component_;
  const std::chrono::minutes window_;
  std::mutex mutex_;
  std::map<std::string, Seen> seen_;

  std::mutex queue_mutex_;
  std::condition_variable queue_changed_;
  std::deque<Pending> queue_;
  size_t in_flight_ = 0;
  bool stopping_ = false;
  std::thread sender_;  // background delivery only
};

}  // namespace warren::runtime
