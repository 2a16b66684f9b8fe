// TargetTextCache: for each ConfigMap key a BrokerBinding keeps, the text
// warren last wrote there and the resourceVersion that write returned. A
// reroute then needs no GET of the target: while the ConfigMap's cached
// metadata shows that same resourceVersion, nobody else changed it since,
// so the text is current. Anything else (another resourceVersion, a
// conflict, a target gone) falls back to reading the object.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace warren::controllers {

class TargetTextCache {
 public:
  struct Text {
    std::string resource_version;
    std::string text;
  };

  // The text last written to `key` of ConfigMap ns/name, if the ConfigMap
  // is still at the resourceVersion that write produced.
  std::optional<Text> current(const std::string& ns, const std::string& name, const std::string& key,
                              const std::string& live_resource_version) const;
  void remember(const std::string& ns, const std::string& name, const std::string& key, Text written);
  // Drops every key of ConfigMap ns/name (a conflict, a delete).
  void forget(const std::string& ns, const std::string& name);

 private:
  static std::string entryKey(const std::string& ns, const std::string& name, const std::string& key);

  mutable std::mutex mutex_;
  std::unordered_map<std::string, Text> texts_;
};

}  // namespace warren::controllers
