// DeferredReroutes: bindings whose targets a move has patched and whose
// status is still to be written. When the active node moves, every binding
// of the cluster is queued at once; each one patches its targets and puts
// its status off to a second pass behind the others, so all clients are
// pointed at the new node before any bookkeeping. The second pass takes the
// time the targets were patched from here (status.lastPatched).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace warren::controllers {

class DeferredReroutes {
 public:
  // Remembers that `key`'s targets were patched for `node` at `patched_at`.
  void put(const std::string& key, const std::string& node, const std::string& patched_at);
  // The time `key`'s targets were patched for `node`, once; nothing when
  // none is pending or it was for another node.
  std::optional<std::string> take(const std::string& key, const std::string& node);
  void drop(const std::string& key);

 private:
  struct Pending {
    std::string node;
    std::string patched_at;
  };
  std::mutex mutex_;
  std::map<std::string, Pending> pending_;
};

}  // namespace warren::controllers
