// EventRecorder: writes core/v1 Events about objects. Repeats of the same
// (object, type, reason, message) within the aggregation window bump the
// existing Event's count instead of creating a new one. Messages are
// written as given and capped at 1 KiB: callers must never put Secret data
// in them.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "kube/interfaces.h"

namespace warren::runtime {

class EventRecorder {
 public:
  EventRecorder(std::shared_ptr<kube::ObjectWriter> writer, std::string component,
                std::chrono::minutes aggregation_window = std::chrono::minutes(10));

  // type: "Normal" or "Warning". Failures are logged, never returned:
  // events are best effort.
  void record(const nlohmann::json& object, const std::string& type, const std::string& reason,
              const std::string& message);

  // The Event that would be created (for tests).
  nlohmann::json buildEvent(const nlohmann::json& object, const std::string& type,
                            const std::string& reason, const std::string& message,
                            std::chrono::system_clock::time_point now) const;

 private:
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
};

}  // namespace warren::runtime
