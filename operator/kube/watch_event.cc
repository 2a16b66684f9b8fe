#include "kube/watch_event.h"

namespace warren::kube {
namespace {

Error malformed(std::string what) { return Error::local("MalformedWatchEvent", std::move(what)); }

}  // namespace

std::string WatchEvent::resourceVersion() const {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return {};
  const auto rv = metadata->find("resourceVersion");
  if (rv == metadata->end() || !rv->is_string()) return {};
  return rv->get<std::string>();
}

std::string_view watchEventTypeName(WatchEventType type) {
  switch (type) {
    case WatchEventType::kAdded: return "ADDED";
    case WatchEventType::kModified: return "MODIFIED";
    case WatchEventType::kDeleted: return "DELETED";
    case WatchEventType::kBookmark: return "BOOKMARK";
    case WatchEventType::kError: return "ERROR";
  }
  return "UNKNOWN";
}

Result<WatchEvent> parseWatchEvent(std::string_view line) {
  nlohmann::json json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return malformed("watch line is not a JSON object");
  const auto type = json.find("type");
  if (type == json.end() || !type->is_string()) return malformed("watch event has no type");
  const auto object = json.find("object");
  if (object == json.end() || !object->is_object()) return malformed("watch event has no object");
  WatchEvent event;
  const auto& name = type->get_ref<const std::string&>();
  if (name == "ADDED") {
    event.type = WatchEventType::kAdded;
  } else if (name == "MODIFIED") {
    event.type = WatchEventType::kModified;
  } else if (name == "DELETED") {
    event.type = WatchEventType::kDeleted;
  } else if (name == "BOOKMARK") {
    event.type = WatchEventType::kBookmark;
  } else if (name == "ERROR") {
    event.type = WatchEventType::kError;
  } else {
    return malformed("unknown watch event type \"" + name + "\"");
  }
  event.object = std::move(*object);
  return event;
}

}  // namespace warren::kube
