// The StatefulSet of RabbitMQ nodes. An init container installs the Erlang
// cookie (mode 600, as the Erlang VM requires), the rendered config and a
// default_user.conf built from the default-user Secret's username and
// password, so no credential ever sits in a ConfigMap or an env var. It
// runs under umask 077, so every file it writes is private from its first
// byte. Both containers meet the restricted Pod Security Standard. A node
// of a multi-node cluster hands over before it stops (preStop).
#include <algorithm>

#include "builders/broker_cluster_children.h"
#include "builders/pod_security.h"

namespace warren::builders {
namespace {

using json = nlohmann::json;

const std::string kSetupScript =
    std::string("set -eu\n"
                "umask 077\n") +
    kInstallCookieLines +
    "mkdir -p /etc/rabbitmq/conf.d\n"
    "cp /tmp/rabbitmq-config/10-warren.conf /tmp/rabbitmq-config/90-additional.conf /etc/rabbitmq/conf.d/\n"
    "cp /tmp/rabbitmq-config/enabled_plugins /etc/rabbitmq/enabled_plugins\n"
    "printf 'default_user = %s\\ndefault_pass = %s\\n' \"$(cat /tmp/default-user/username)\" "
    "\"$(cat /tmp/default-user/password)\" > /etc/rabbitmq/conf.d/11-default_user.conf\n";

// Seconds the preStop hook leaves for `rabbitmq-upgrade drain` and the broker's own shutdown.
constexpr int kStopMargin = 20;

// Before a node stops (a rolling restart, a scale-down, its Kubernetes node drained): wait until every
// quorum queue keeps a majority without it, then drain it (queue leaders move away, client listeners
// close, so clients reconnect to another node). Bounded by the grace period: a cluster that cannot spare
// a node (2 replicas with quorum queues) waits that long and then stops anyway, and says so.
std::string preStopScript(int grace_seconds) {
  const int await_seconds = grace_seconds - kStopMargin;
  std::string script = "set -u\n";
  if (await_seconds > 0) {
    script += "rabbitmq-upgrade --quiet await_online_quorum_plus_one -t " + std::to_string(await_seconds) +
              " || echo 'warren: stopping although a quorum queue may lose its majority' >&2\n";
  }
  const int drain_seconds = std::max(1, std::min(grace_seconds, kStopMargin) / 2);
  script += "rabbitmq-upgrade --quiet drain -t " + std::to_string(drain_seconds) + " || true\n";
  return script;
}

json containerPort(const std::string& name, int port) {
  return {{"name", name}, {"containerPort", port}, {"protocol", "TCP"}};
}

json defaultAffinity(const api::BrokerCluster& cluster) {
  return {{"podAntiAffinity",
           {{"preferredDuringSchedulingIgnoredDuringExecution",
             json::array({{{"weight", 100},
                           {"podAffinityTerm",
                            {{"topologyKey", "kubernetes.io/hostname"},
                             {"labelSelector", {{"matchLabels", cluster.selectorLabels()}}}}}}})}}}};
}

}  // namespace

json erlangCookieVolume(const api::BrokerCluster& cluster) {
  return {{"name", "erlang-cookie-secret"},
          {"secret", {{"secretName", cluster.erlangCookieSecretName()},
                      {"items", json::array({{{"key", "cookie"}, {"path", "cookie"}}})}}}};
}

void placeLikeBrokers(const api::BrokerCluster& cluster, json& pod_spec) {
  const auto& spec = cluster.spec;
  if (!spec.node_selector.empty()) pod_spec["nodeSelector"] = spec.node_selector;
  if (spec.tolerations.is_array()) pod_spec["tolerations"] = spec.tolerations;
  if (!spec.image_pull_secrets.empty()) {
    json secrets = json::array();
    for (const auto& name : spec.image_pull_secrets) secrets.push_back({{"name", name}});
    pod_spec["imagePullSecrets"] = secrets;
  }
}

json buildStatefulSet(const api::BrokerCluster& cluster) {
  const auto& spec = cluster.spec;
  json ports = json::array({containerPort("amqp", kAmqpPort), containerPort("management", kManagementPort),
                            containerPort("prometheus", kPrometheusPort), containerPort("epmd", kEpmdPort),
                            containerPort("cluster-links", kDistributionPort)});
  if (spec.mqtt_enabled) ports.push_back(containerPort("mqtt", spec.mqtt_port));
  if (!spec.tls_secret_name.empty()) {
    ports.push_back(containerPort("amqps", kAmqpsPort));
    ports.push_back(containerPort("management-tls", kManagementTlsPort));
  }

  json mounts = json::array({{{"name", "rabbitmq-etc"}, {"mountPath", "/etc/rabbitmq"}},
                             {{"name", "rabbitmq-home"}, {"mountPath", "/var/lib/rabbitmq"}},
                             {{"name", "persistence"}, {"mountPath", "/var/lib/rabbitmq/mnesia"}}});
  if (!spec.tls_secret_name.empty()) {
    mounts.push_back({{"name", "tls"}, {"mountPath", "/etc/rabbitmq-tls"}, {"readOnly", true}});
  }
  json volumes = json::array(
      {{{"name", "rabbitmq-etc"}, {"emptyDir", json::object()}},
       {{"name", "rabbitmq-home"}, {"emptyDir", json::object()}},
       {{"name", "rabbitmq-config"}, {"configMap", {{"name", cluster.configMapName()}}}},
       erlangCookieVolume(cluster),
       {{"name", "default-user"},
        {"secret", {{"secretName", cluster.defaultUserSecretName()},
                    {"items", json::array({{{"key", "username"}, {"path", "username"}},
                                           {{"key", "password"}, {"path", "password"}}})}}}}});
  if (spec.ephemeral) volumes.push_back({{"name", "persistence"}, {"emptyDir", json::object()}});
  if (!spec.tls_secret_name.empty()) {
    volumes.push_back({{"name", "tls"}, {"secret", {{"secretName", spec.tls_secret_name}}}});
  }

  const json setup = {
      {"name", "setup"},
      {"image", spec.image},
      {"command", json::array({"sh", "-c", kSetupScript})},
      {"securityContext", brokerContainerSecurity()},
      {"resources", {{"requests", {{"cpu", "50m"}, {"memory", "64Mi"}}}, {"limits", {{"memory", "64Mi"}}}}},
      {"volumeMounts",
       json::array({{{"name", "rabbitmq-etc"}, {"mountPath", "/etc/rabbitmq"}},
                    {{"name", "rabbitmq-home"}, {"mountPath", "/var/lib/rabbitmq"}},
                    {{"name", "rabbitmq-config"}, {"mountPath", "/tmp/rabbitmq-config"}},
                    {{"name", "erlang-cookie-secret"}, {"mountPath", kCookieSecretMount}},
                    {{"name", "default-user"}, {"mountPath", "/tmp/default-user"}}})}};
  json rabbitmq = {
      {"name", "rabbitmq"},
      {"image", spec.image},
      {"env",
       json::array({{{"name", "MY_POD_NAME"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}},
                    {{"name", "RABBITMQ_USE_LONGNAME"}, {"value", "true"}},
                    {{"name", "RABBITMQ_NODENAME"},
                     {"value", "rabbit@$(MY_POD_NAME)." + cluster.headlessServiceName() + "." + cluster.ns}},
                    {{"name", "RABBITMQ_ENABLED_PLUGINS_FILE"}, {"value", "/etc/rabbitmq/enabled_plugins"}}})},
      {"ports", ports},
      {"readinessProbe",
       {{"tcpSocket", {{"port", "amqp"}}},
        {"initialDelaySeconds", 10},
        {"periodSeconds", 10},
        {"timeoutSeconds", 5},
        {"failureThreshold", 3}}},
      {"resources", spec.resources},
      {"securityContext", brokerContainerSecurity()},
      {"volumeMounts", mounts}};
  // A single node has nothing to hand over, and would wait the whole grace period for a majority it
  // cannot have.
  if (spec.replicas > 1) {
    rabbitmq["lifecycle"] = {
        {"preStop",
         {{"exec", {{"command", json::array({"sh", "-c", preStopScript(spec.termination_grace_period_seconds)})}}}}}};
  }

  json pod_spec = {{"terminationGracePeriodSeconds", spec.termination_grace_period_seconds},
                   {"securityContext", brokerPodSecurity()},
                   {"initContainers", json::array({setup})},
                   {"containers", json::array({rabbitmq})},
                   {"volumes", volumes},
                   {"affinity", spec.affinity.is_object() ? spec.affinity : defaultAffinity(cluster)}};
  placeLikeBrokers(cluster, pod_spec);

  json sts_spec = {
      {"serviceName", cluster.headlessServiceName()},
      {"replicas", spec.replicas},
      {"podManagementPolicy", "Parallel"},
      {"selector", {{"matchLabels", cluster.selectorLabels()}}},
      {"updateStrategy", {{"type", "RollingUpdate"}}},
      {"persistentVolumeClaimRetentionPolicy",
       {{"whenDeleted", spec.reclaim_on_delete ? "Delete" : "Retain"},
        {"whenScaled", spec.allow_scale_down ? "Delete" : "Retain"}}},
      {"template",
       {{"metadata",
         {{"labels", cluster.labels()}, {"annotations", {{kConfigChecksumAnnotation, configChecksum(cluster)}}}}},
        {"spec", pod_spec}}}};
  if (!spec.ephemeral) {
    json claim_spec = {{"accessModes", json::array({"ReadWriteOnce"})},
                       {"resources", {{"requests", {{"storage", spec.storage}}}}}};
    if (!spec.storage_class_name.empty()) claim_spec["storageClassName"] = spec.storage_class_name;
    sts_spec["volumeClaimTemplates"] = json::array(
        {{{"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"},
          {"metadata", {{"name", "persistence"}, {"labels", cluster.selectorLabels()}}},
          {"spec", claim_spec}}});
  }
  return {{"apiVersion", "apps/v1"},
          {"kind", "StatefulSet"},
          {"metadata", childMetadata(cluster, cluster.statefulSetName())},
          {"spec", sts_spec}};
}

json buildPodDisruptionBudget(const api::BrokerCluster& cluster) {
  return {{"apiVersion", "policy/v1"},
          {"kind", "PodDisruptionBudget"},
          {"metadata", childMetadata(cluster, cluster.pdbName())},
          {"spec", {{"maxUnavailable", 1}, {"selector", {{"matchLabels", cluster.selectorLabels()}}}}}};
}

}  // namespace warren::builders
