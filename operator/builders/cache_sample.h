// A sample of what the BrokerCluster controller caches: a BrokerCluster and
// the children warren builds for it, packed as the informer store packs them
// (MessagePack). Given to the cache's compression as dictionary material
// (runtime/compact_bytes.h), it lets each cached child be stored as little
// more than what differs from the sample: names, uids, versions, status.
#pragma once

#include <string>

namespace warren::builders {

std::string brokerClusterCacheSample();

}  // namespace warren::builders
