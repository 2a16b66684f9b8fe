#include "controllers/deferred_reroutes.h"

namespace warren::controllers {

void DeferredReroutes::put(const std::string& key, const std::string& node, const std::string& patched_at) {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_[key] = {node, patched_at};
}

std::optional<std::string> DeferredReroutes::take(const std::string& key, const std::string& node) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = pending_.find(key);
  if (it == pending_.end()) return std::nullopt;
  std::optional<std::string> patched_at;
  if (it->second.node == node) patched_at = it->second.patched_at;
  pending_.erase(it);
  return patched_at;
}

void DeferredReroutes::drop(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_.erase(key);
}

}  // namespace warren::controllers
