// Decoding of watch stream lines ({"type": ..., "object": ...}).
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace warren::kube {

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };

struct WatchEvent {
  WatchEventType type = WatchEventType::kAdded;
  nlohmann::json object;  // the object; a metav1.Status for kError

  // metadata.resourceVersion of the object ("" when absent).
  std::string resourceVersion() const;
};

// Error reason "MalformedWatchEvent" for anything that is not a watch event.
Result<WatchEvent> parseWatchEvent(std::string_view line);
std::string_view watchEventTypeName(WatchEventType type);

}  // namespace warren::kube
