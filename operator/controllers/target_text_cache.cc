#include "controllers/target_text_cache.h"

#include <iterator>

namespace warren::controllers {
namespace {

// More bound keys than this and the cache starts over: it only saves reads.
constexpr size_t kMaxEntries = 16384;

}  // namespace

std::string TargetTextCache::entryKey(const std::string& ns, const std::string& name, const std::string& key) {
  return ns + "/" + name + "\n" + key;
}

std::optional<TargetTextCache::Text> TargetTextCache::current(const std::string& ns, const std::string& name,
                                                              const std::string& key,
                                                              const std::string& live_resource_version) const {
  if (live_resource_version.empty()) return std::nullopt;
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = texts_.find(entryKey(ns, name, key));
  if (it == texts_.end() || it->second.resource_version != live_resource_version) return std::nullopt;
  return it->second;
}

void TargetTextCache::remember(const std::string& ns, const std::string& name, const std::string& key, Text written) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (texts_.size() >= kMaxEntries) texts_.clear();
  texts_[entryKey(ns, name, key)] = std::move(written);
}

void TargetTextCache::forget(const std::string& ns, const std::string& name) {
  const std::string prefix = ns + "/" + name + "\n";
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = texts_.begin(); it != texts_.end();) {
    it = it->first.compare(0, prefix.size(), prefix) == 0 ? texts_.erase(it) : std::next(it);
  }
}

}  // namespace warren::controllers
