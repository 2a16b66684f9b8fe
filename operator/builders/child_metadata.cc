#include "builders/broker_cluster_children.h"
#include "runtime/object_helpers.h"

namespace warren::builders {

nlohmann::json childMetadata(const api::BrokerCluster& cluster, const std::string& name) {
  return {{"name", name},
          {"namespace", cluster.ns},
          {"labels", cluster.labels()},
          {"ownerReferences", nlohmann::json::array({runtime::controllerReference(cluster.raw)})}};
}

}  // namespace warren::builders
