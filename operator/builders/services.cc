// The headless Service (stable DNS names for the nodes, including not-ready
// ones, so a cluster can form) and the client Service.
#include "builders/broker_cluster_children.h"

namespace warren::builders {
namespace {

nlohmann::json port(const std::string& name, int number) {
  return {{"name", name}, {"port", number}, {"targetPort", number}, {"protocol", "TCP"}};
}

}  // namespace

nlohmann::json buildHeadlessService(const api::BrokerCluster& cluster) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", childMetadata(cluster, cluster.headlessServiceName())},
          {"spec",
           {{"clusterIP", "None"},
            {"publishNotReadyAddresses", true},
            {"selector", cluster.selectorLabels()},
            {"ports", nlohmann::json::array({port("epmd", kEpmdPort), port("cluster-links", kDistributionPort)})}}}};
}

nlohmann::json buildClientService(const api::BrokerCluster& cluster) {
  const auto& spec = cluster.spec;
  nlohmann::json ports = nlohmann::json::array(
      {port("amqp", kAmqpPort), port("management", kManagementPort), port("prometheus", kPrometheusPort)});
  if (spec.mqtt_enabled) ports.push_back(port("mqtt", spec.mqtt_port));
  if (!spec.tls_secret_name.empty()) {
    ports.push_back(port("amqps", kAmqpsPort));
    ports.push_back(port("management-tls", kManagementTlsPort));
    if (spec.mqtt_enabled) ports.push_back(port("mqtts", kMqttTlsPort));
  }
  nlohmann::json metadata = childMetadata(cluster, cluster.clientServiceName());
  if (!spec.service_annotations.empty()) metadata["annotations"] = spec.service_annotations;
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", metadata},
          {"spec", {{"type", spec.service_type}, {"selector", cluster.selectorLabels()}, {"ports", ports}}}};
}

}  // namespace warren::builders
