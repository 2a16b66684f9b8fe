// The ConfigMap with rabbitmq.conf (peer discovery over the StatefulSet's
// stable DNS names, listeners, queue defaults, TLS), the user's additional
// lines, and enabled_plugins.
#include <algorithm>
#include <sstream>

#include "builders/broker_cluster_children.h"
#include "kube/tls_material.h"

namespace warren::builders {
namespace {

constexpr const char* kPeerLinePrefix = "cluster_formation.classic_config.nodes.";
constexpr const char* kPartitionHandlingPrefix = "cluster_partition_handling";

}  // namespace

std::string renderRabbitmqConf(const api::BrokerCluster& cluster) {
  const auto& spec = cluster.spec;
  std::ostringstream conf;
  conf << "# Rendered by warren for BrokerCluster " << cluster.ns << "/" << cluster.name
       << "; edits are overwritten.\n";
  conf << "cluster_formation.peer_discovery_backend = classic_config\n";
  for (int i = 0; i < spec.replicas; ++i) {
    conf << kPeerLinePrefix << (i + 1) << " = " << cluster.nodeName(i) << "\n";
  }
  // pause_minority needs a majority to exist after a single loss: with 2 (or
  // any even number of) nodes the survivors of a split are not a majority
  // and would pause themselves, so losing one node of two would stop both.
  const bool odd_majority = spec.replicas >= 3 && spec.replicas % 2 == 1;
  conf << "cluster_partition_handling = " << (odd_majority ? "pause_minority" : "autoheal") << "\n";
  conf << "listeners.tcp.default = " << kAmqpPort << "\n";
  conf << "management.tcp.port = " << kManagementPort << "\n";
  conf << "prometheus.tcp.port = " << kPrometheusPort << "\n";
  conf << "default_queue_type = " << spec.effectiveDefaultQueueType() << "\n";
  conf << "loopback_users.guest = true\n";
  if (spec.mqtt_enabled) {
    conf << "mqtt.listeners.tcp.default = " << spec.mqtt_port << "\n";
    conf << "mqtt.allow_anonymous = false\n";
  }
  if (!spec.tls_secret_name.empty()) {
    conf << "listeners.ssl.default = " << kAmqpsPort << "\n";
    conf << "ssl_options.certfile = /etc/rabbitmq-tls/tls.crt\n";
    conf << "ssl_options.keyfile = /etc/rabbitmq-tls/tls.key\n";
    conf << "management.ssl.port = " << kManagementTlsPort << "\n";
    conf << "management.ssl.certfile = /etc/rabbitmq-tls/tls.crt\n";
    conf << "management.ssl.keyfile = /etc/rabbitmq-tls/tls.key\n";
    if (spec.mqtt_enabled) conf << "mqtt.listeners.ssl.default = " << kMqttTlsPort << "\n";
  }
  return conf.str();
}

std::string renderEnabledPlugins(const api::BrokerCluster& cluster) {
  std::vector<std::string> plugins = {"rabbitmq_management", "rabbitmq_prometheus"};
  if (cluster.spec.mqtt_enabled) plugins.push_back("rabbitmq_mqtt");
  for (const auto& p : cluster.spec.additional_plugins) {
    if (std::find(plugins.begin(), plugins.end(), p) == plugins.end()) plugins.push_back(p);
  }
  std::string out = "[";
  for (size_t i = 0; i < plugins.size(); ++i) out += (i ? "," : "") + plugins[i];
  return out + "].\n";
}

std::string configChecksum(const api::BrokerCluster& cluster) {
  std::istringstream conf(renderRabbitmqConf(cluster));
  std::string restart_relevant;
  for (std::string line; std::getline(conf, line);) {
    // Lines derived from the replica count change when scaling; running
    // nodes need not restart for them (new nodes get them, others on their
    // next restart).
    if (line.rfind(kPeerLinePrefix, 0) != 0 && line.rfind(kPartitionHandlingPrefix, 0) != 0) {
      restart_relevant += line + "\n";
    }
  }
  restart_relevant += "--\n" + cluster.spec.additional_config + "--\n" + renderEnabledPlugins(cluster);
  return kube::sha256Hex(restart_relevant);
}

nlohmann::json buildConfigMap(const api::BrokerCluster& cluster) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", childMetadata(cluster, cluster.configMapName())},
          {"data",
           {{"10-warren.conf", renderRabbitmqConf(cluster)},
            {"90-additional.conf", cluster.spec.additional_config},
            {"enabled_plugins", renderEnabledPlugins(cluster)}}}};
}

}  // namespace warren::builders
