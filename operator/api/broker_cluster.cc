#include "api/broker_cluster.h"

#include "api/field_reader.h"

#include <algorithm>
#include <regex>

namespace warren::api {
namespace {

using json = nlohmann::json;

Error invalid(const std::string& field, const std::string& what) { return invalidField("spec." + field, what); }

}  // namespace

const kube::ResourceType& brokerClusters() {
  static const kube::ResourceType type{kGroup, kVersion, kBrokerClusterKind, "brokerclusters", true};
  return type;
}

bool BrokerCluster::paused() const {
  const auto it = annotations.find(kPauseAnnotation);
  return it != annotations.end() && it->second == "true";
}

std::vector<std::string> BrokerCluster::departedNodes() const {
  std::vector<std::string> nodes;
  const auto listed = status.find("departedNodes");
  if (listed == status.end() || !listed->is_array()) return nodes;
  for (const auto& node : *listed) {
    if (node.is_string()) nodes.push_back(node.get<std::string>());
  }
  return nodes;
}

std::string BrokerCluster::erlangCookieSecretName() const {
  return spec.erlang_cookie_secret_name.empty() ? name + "-erlang-cookie" : spec.erlang_cookie_secret_name;
}

std::string BrokerCluster::defaultUserSecretName() const {
  return spec.default_user_secret_name.empty() ? name + "-default-user" : spec.default_user_secret_name;
}

std::string BrokerCluster::nodeName(int ordinal) const {
  return "rabbit@" + podName(ordinal) + "." + headlessServiceName() + "." + ns;
}

bool BrokerCluster::allowsReferencesFrom(const std::string& other) const {
  if (other == ns) return true;
  const auto& allowed = spec.allowed_binding_namespaces;
  return std::any_of(allowed.begin(), allowed.end(), [&](const std::string& n) { return n == "*" || n == other; });
}

std::map<std::string, std::string> BrokerCluster::selectorLabels() const {
  return {{kClusterLabel, name}, {"app.kubernetes.io/component", "rabbitmq"}};
}

std::map<std::string, std::string> BrokerCluster::labels() const {
  auto out = selectorLabels();
  out["app.kubernetes.io/name"] = name;
  out["app.kubernetes.io/part-of"] = "warren";
  out["app.kubernetes.io/managed-by"] = "warren-operator";
  return out;
}

std::string nodeHost(const std::string& node_name) {
  return node_name.substr(node_name.find('@') + 1) + ".svc";
}

Result<BrokerCluster> parseBrokerCluster(const json& object) {
  BrokerCluster cluster;
  cluster.raw = object;
  FieldReader root(&object, "");
  static_cast<ObjectIdentity&>(cluster) = readIdentity(root);
  if (object.is_object() && object.contains("status") && object["status"].is_object()) cluster.status = object["status"];
  if (!root.ok()) return root.status().error();
  // Names of children (<name>-erlang-cookie, pods <name>-server-N) must stay valid DNS labels.
  if (cluster.name.size() > 40) return invalidField("metadata.name", "must be at most 40 characters");

  FieldReader spec = root.object("spec");
  BrokerClusterSpec& s = cluster.spec;
  spec.read("replicas", s.replicas);
  spec.read("allowScaleDown", s.allow_scale_down);
  spec.read("image", s.image);
  spec.read("terminationGracePeriodSeconds", s.termination_grace_period_seconds);
  FieldReader persistence = spec.object("persistence");
  persistence.read("ephemeral", s.ephemeral);
  persistence.read("storageClassName", s.storage_class_name);
  persistence.read("storage", s.storage);
  persistence.read("reclaimOnDelete", s.reclaim_on_delete);
  FieldReader rabbitmq = spec.object("rabbitmq");
  rabbitmq.read("additionalPlugins", s.additional_plugins);
  rabbitmq.read("additionalConfig", s.additional_config);
  rabbitmq.read("defaultQueueType", s.default_queue_type);
  FieldReader mqtt = spec.object("mqtt");
  mqtt.read("enabled", s.mqtt_enabled);
  mqtt.read("port", s.mqtt_port);
  FieldReader service = spec.object("service");
  service.read("type", s.service_type);
  service.read("annotations", s.service_annotations);
  FieldReader secrets = spec.object("secrets");
  secrets.read("erlangCookieSecretName", s.erlang_cookie_secret_name);
  secrets.read("defaultUserSecretName", s.default_user_secret_name);
  FieldReader failover = spec.object("failover");
  failover.read("policy", s.failover_policy);
  failover.read("unhealthyAfterSeconds", s.unhealthy_after_seconds);
  failover.read("allowedBindingNamespaces", s.allowed_binding_namespaces);
  FieldReader tls = spec.object("tls");
  tls.read("secretName", s.tls_secret_name);
  spec.read("nodeSelector", s.node_selector);
  spec.readObject("resources", s.resources);
  spec.readObject("affinity", s.affinity);
  spec.readObjectArray("tolerations", s.tolerations);
  for (auto& secret : spec.items("imagePullSecrets")) {
    std::string name;
    secret.require("name", name);
    if (!name.empty()) s.image_pull_secrets.push_back(name);
  }
  if (!root.ok()) return root.status().error();

  // What the schema also checks, re-checked because builders rely on it.
  if (s.replicas < 1 || s.replicas > 9) return invalid("replicas", "must be between 1 and 9");
  if (s.image.empty()) return invalid("image", "must not be empty");
  if (s.mqtt_port < 1 || s.mqtt_port > 65535) return invalid("mqtt.port", "must be between 1 and 65535");
  static const std::regex quantity(R"(^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$)");
  if (!s.ephemeral && !std::regex_match(s.storage, quantity)) {
    return invalid("persistence.storage", "\"" + s.storage + "\" is not a quantity such as 10Gi");
  }
  static const std::regex plugin(R"(^[a-z][a-z0-9_]*$)");
  for (size_t i = 0; i < s.additional_plugins.size(); ++i) {
    if (!std::regex_match(s.additional_plugins[i], plugin)) {
      return invalid("rabbitmq.additionalPlugins[" + std::to_string(i) + "]", "\"" + s.additional_plugins[i] + "\" is not a plugin name");
    }
  }
  // additionalConfig is sysctl format: every non-comment line is "key = value".
  size_t line_number = 0;
  size_t start = 0;
  while (start <= s.additional_config.size()) {
    const size_t end = std::min(s.additional_config.find('\n', start), s.additional_config.size());
    const std::string line = s.additional_config.substr(start, end - start);
    ++line_number;
    const auto first = line.find_first_not_of(" \t\r");
    if (first != std::string::npos && line[first] != '#' && line.find('=') == std::string::npos) {
      return invalid("rabbitmq.additionalConfig", "line " + std::to_string(line_number) + " is not \"key = value\"");
    }
    start = end + 1;
  }
  return cluster;
}

}  // namespace warren::api
