// The Erlang-cookie and default-user Secrets. The controller creates these
// once and never updates them: their random data must survive restarts of
// warren and edits of the BrokerCluster. Their lifecycle follows the data's:
// while the volume claims outlive the cluster (the default), so do the
// Secrets (no ownerReference, only the cluster label), and a cluster created
// again under the same name finds and reuses them, so its nodes boot on the
// retained data with the cookie and password that data knows. With
// ephemeral storage or reclaimOnDelete the data goes with the cluster and
// the Secrets are owned by it, so they go too.
#include "builders/broker_cluster_children.h"
#include "kube/tls_material.h"

namespace warren::builders {

namespace {

nlohmann::json secretMetadata(const api::BrokerCluster& cluster, const std::string& name) {
  nlohmann::json metadata = childMetadata(cluster, name);
  if (!secretsGoWithCluster(cluster)) metadata.erase("ownerReferences");
  return metadata;
}

}  // namespace

bool secretsGoWithCluster(const api::BrokerCluster& cluster) {
  return cluster.spec.ephemeral || cluster.spec.reclaim_on_delete;
}

nlohmann::json buildErlangCookieSecret(const api::BrokerCluster& cluster, const std::string& cookie) {
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", secretMetadata(cluster, cluster.erlangCookieSecretName())},
          {"type", "Opaque"},
          {"data", {{"cookie", kube::base64Encode(cookie)}}}};
}

nlohmann::json buildDefaultUserSecret(const api::BrokerCluster& cluster, const std::string& username,
                                      const std::string& password) {
  const std::string host = cluster.serviceHost();
  const std::string port = std::to_string(kAmqpPort);
  nlohmann::json data = {
      {"username", kube::base64Encode(username)},
      {"password", kube::base64Encode(password)},
      {"host", kube::base64Encode(host)},
      {"port", kube::base64Encode(port)},
      {"uri", kube::base64Encode("amqp://" + username + ":" + password + "@" + host + ":" + port + "/")},
      // servicebinding.io well-known entries.
      {"type", kube::base64Encode("rabbitmq")},
      {"provider", kube::base64Encode("warren")}};
  if (cluster.spec.mqtt_enabled) data["mqtt-port"] = kube::base64Encode(std::to_string(cluster.spec.mqtt_port));
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", secretMetadata(cluster, cluster.defaultUserSecretName())},
          {"type", "servicebinding.io/rabbitmq"},
          {"data", data}};
}

std::string appliedCredentialsSecretName(const api::BrokerCluster& cluster) {
  return cluster.name + "-default-user-applied";
}

nlohmann::json buildAppliedCredentialsSecret(const api::BrokerCluster& cluster, const std::string& username,
                                             const std::string& password) {
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", secretMetadata(cluster, appliedCredentialsSecretName(cluster))},
          {"type", "Opaque"},
          {"data", {{"username", kube::base64Encode(username)}, {"password", kube::base64Encode(password)}}}};
}

}  // namespace warren::builders
