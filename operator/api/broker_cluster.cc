#include "api/broker_cluster.h"

#include <regex>

namespace warren::api {
namespace {

using json = nlohmann::json;

Error invalid(const std::string& field, const std::string& what) {
  return Error::terminalError("InvalidSpec", "spec." + field + ": " + what);
}

// Reads spec[key] into `out` when present; an error names the field.
template <typename T>
Status read(const json& spec, const char* key, T& out, const std::string& field) {
  const auto it = spec.find(key);
  if (it == spec.end() || it->is_null()) return okStatus();
  try {
    out = it->get<T>();
  } catch (const json::exception&) {
    return invalid(field, "has the wrong type");
  }
  return okStatus();
}

std::map<std::string, std::string> stringMap(const json& value) {
  std::map<std::string, std::string> out;
  if (!value.is_object()) return out;
  for (const auto& [k, v] : value.items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

}  // namespace

const kube::ResourceType& brokerClusters() {
  static const kube::ResourceType type{kGroup, kVersion, kBrokerClusterKind, "brokerclusters", true};
  return type;
}

bool BrokerCluster::paused() const {
  const auto it = annotations.find(kPauseAnnotation);
  return it != annotations.end() && it->second == "true";
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
  const json& metadata = object.value("metadata", json::object());
  cluster.name = metadata.value("name", "");
  cluster.ns = metadata.value("namespace", "");
  cluster.uid = metadata.value("uid", "");
  cluster.generation = metadata.value("generation", 0LL);
  cluster.annotations = stringMap(metadata.value("annotations", json::object()));
  cluster.status = object.value("status", json::object());
  if (cluster.name.empty()) return invalid("metadata.name", "is required");
  // Names of children (<name>-erlang-cookie, pods <name>-server-N) must stay valid DNS labels.
  if (cluster.name.size() > 40) return Error::terminalError("InvalidSpec", "metadata.name: must be at most 40 characters");

  const json spec = object.value("spec", json::object());
  BrokerClusterSpec& s = cluster.spec;
  std::vector<Status> reads = {
      read(spec, "replicas", s.replicas, "replicas"),
      read(spec, "allowScaleDown", s.allow_scale_down, "allowScaleDown"),
      read(spec, "image", s.image, "image"),
      read(spec, "terminationGracePeriodSeconds", s.termination_grace_period_seconds, "terminationGracePeriodSeconds"),
  };
  const json persistence = spec.value("persistence", json::object());
  reads.push_back(read(persistence, "ephemeral", s.ephemeral, "persistence.ephemeral"));
  reads.push_back(read(persistence, "storageClassName", s.storage_class_name, "persistence.storageClassName"));
  reads.push_back(read(persistence, "storage", s.storage, "persistence.storage"));
  reads.push_back(read(persistence, "reclaimOnDelete", s.reclaim_on_delete, "persistence.reclaimOnDelete"));
  const json rabbitmq = spec.value("rabbitmq", json::object());
  reads.push_back(read(rabbitmq, "additionalPlugins", s.additional_plugins, "rabbitmq.additionalPlugins"));
  reads.push_back(read(rabbitmq, "additionalConfig", s.additional_config, "rabbitmq.additionalConfig"));
  reads.push_back(read(rabbitmq, "defaultQueueType", s.default_queue_type, "rabbitmq.defaultQueueType"));
  const json mqtt = spec.value("mqtt", json::object());
  reads.push_back(read(mqtt, "enabled", s.mqtt_enabled, "mqtt.enabled"));
  reads.push_back(read(mqtt, "port", s.mqtt_port, "mqtt.port"));
  const json service = spec.value("service", json::object());
  reads.push_back(read(service, "type", s.service_type, "service.type"));
  const json secrets = spec.value("secrets", json::object());
  reads.push_back(read(secrets, "erlangCookieSecretName", s.erlang_cookie_secret_name, "secrets.erlangCookieSecretName"));
  reads.push_back(read(secrets, "defaultUserSecretName", s.default_user_secret_name, "secrets.defaultUserSecretName"));
  const json failover = spec.value("failover", json::object());
  reads.push_back(read(failover, "policy", s.failover_policy, "failover.policy"));
  reads.push_back(read(failover, "unhealthyAfterSeconds", s.unhealthy_after_seconds, "failover.unhealthyAfterSeconds"));
  reads.push_back(read(failover, "allowedBindingNamespaces", s.allowed_binding_namespaces, "failover.allowedBindingNamespaces"));
  if (spec.contains("tls") && spec["tls"].is_object()) {
    reads.push_back(read(spec["tls"], "secretName", s.tls_secret_name, "tls.secretName"));
  }
  for (const auto& status : reads) {
    if (!status) return status.error();
  }
  s.service_annotations = stringMap(service.value("annotations", json::object()));
  s.node_selector = stringMap(spec.value("nodeSelector", json::object()));
  if (spec.contains("resources") && spec["resources"].is_object()) s.resources = spec["resources"];
  if (spec.contains("affinity") && spec["affinity"].is_object()) s.affinity = spec["affinity"];
  if (spec.contains("tolerations") && spec["tolerations"].is_array()) s.tolerations = spec["tolerations"];
  for (const auto& secret : spec.value("imagePullSecrets", json::array())) {
    if (secret.is_object() && secret.contains("name")) s.image_pull_secrets.push_back(secret.value("name", ""));
  }

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
