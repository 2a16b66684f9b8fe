// Informer caches for reconciler unit tests: an Informer with no source,
// filled by the test with the objects the API server would have sent.
#pragma once

#include <memory>

#include "runtime/informer.h"

namespace warren::testing {

inline std::shared_ptr<runtime::Informer> emptyCache(const kube::ResourceType& type) {
  return std::make_shared<runtime::Informer>(nullptr, runtime::InformerOptions{type, "", "", ""});
}

// Puts `object` into the cache as a watch event would.
inline void cacheObject(runtime::Informer& informer, const nlohmann::json& object) {
  informer.apply({runtime::WatcherEvent::Type::kApply, object});
}

}  // namespace warren::testing
