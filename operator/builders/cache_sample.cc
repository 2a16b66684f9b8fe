#include "builders/cache_sample.h"

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "builders/broker_cluster_children.h"

namespace warren::builders {

std::string brokerClusterCacheSample() {
  const nlohmann::json object = {
      {"apiVersion", "warren.dev/v1alpha1"},
      {"kind", "BrokerCluster"},
      {"metadata", {{"name", "sample"}, {"namespace", "default"}, {"uid", "00000000-0000-0000-0000-000000000000"},
                    {"generation", 1}, {"resourceVersion", "1"}}},
      {"spec", {{"replicas", 1}}}};
  auto cluster = api::parseBrokerCluster(object);
  if (!cluster) return "";
  std::string sample;
  auto append = [&](const nlohmann::json& packed_object) {
    const std::vector<std::uint8_t> bytes = nlohmann::json::to_msgpack(packed_object);
    sample.append(bytes.begin(), bytes.end());
  };
  // The most often cached kinds last (nearest to the data in the window).
  append(object);
  append(buildPodDisruptionBudget(*cluster));
  append(buildConfigMap(*cluster));
  append(buildHeadlessService(*cluster));
  append(buildClientService(*cluster));
  append(buildStatefulSet(*cluster));
  return sample;
}

}  // namespace warren::builders
