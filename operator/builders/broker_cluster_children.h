// One builder per child of a BrokerCluster (after rabbitmq/cluster-operator's
// internal/resource). Each is a pure function of the CR (and, for Secrets,
// of random bytes the caller supplies), returning the object that the
// controller applies with server-side apply (or creates once, for Secrets).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/broker_cluster.h"

namespace warren::builders {

// Ports of a RabbitMQ node.
inline constexpr int kAmqpPort = 5672;
inline constexpr int kAmqpsPort = 5671;
inline constexpr int kManagementPort = 15672;
inline constexpr int kManagementTlsPort = 15671;
inline constexpr int kPrometheusPort = 15692;
inline constexpr int kEpmdPort = 4369;
inline constexpr int kDistributionPort = 25672;
inline constexpr int kMqttTlsPort = 8883;
// The management API through the cluster's client Service: "http://<service>.<ns>.svc:15672".
inline std::string managementUrl(const api::BrokerCluster& cluster) {
  return "http://" + cluster.serviceHost() + ":" + std::to_string(kManagementPort);
}
// Annotation on the pod template: changing config rolls the pods.
inline constexpr const char* kConfigChecksumAnnotation = "warren.dev/config-checksum";

// metadata with name, namespace, the cluster's labels and a controller
// ownerReference to the BrokerCluster.
nlohmann::json childMetadata(const api::BrokerCluster& cluster, const std::string& name);

nlohmann::json buildHeadlessService(const api::BrokerCluster& cluster);
nlohmann::json buildClientService(const api::BrokerCluster& cluster);
// Whether the cookie and default-user Secrets are owned by the cluster (and
// so deleted with it): only when its data is deleted too (ephemeral storage
// or persistence.reclaimOnDelete); otherwise they are kept for a re-create.
bool secretsGoWithCluster(const api::BrokerCluster& cluster);
// `cookie` must be random (the controller draws it from OpenSSL's CSPRNG).
nlohmann::json buildErlangCookieSecret(const api::BrokerCluster& cluster, const std::string& cookie);
nlohmann::json buildDefaultUserSecret(const api::BrokerCluster& cluster, const std::string& username,
                                      const std::string& password);
// The credentials warren last applied to the brokers ("<name>-default-user-applied"): what it
// logs in with to apply a rotated password. Same lifecycle as the default-user Secret.
std::string appliedCredentialsSecretName(const api::BrokerCluster& cluster);
nlohmann::json buildAppliedCredentialsSecret(const api::BrokerCluster& cluster, const std::string& username,
                                             const std::string& password);
nlohmann::json buildConfigMap(const api::BrokerCluster& cluster);
nlohmann::json buildStatefulSet(const api::BrokerCluster& cluster);
nlohmann::json buildPodDisruptionBudget(const api::BrokerCluster& cluster);

// What the broker StatefulSet and the forget Job share: the Erlang cookie
// Secret as a volume (mounted at kCookieSecretMount), the shell lines that
// install it where the Erlang VM and the CLI tools read it, and the cluster's
// placement and pull settings (nodeSelector, tolerations, imagePullSecrets).
inline constexpr const char* kCookieSecretMount = "/tmp/erlang-cookie-secret";
inline constexpr const char* kInstallCookieLines =
    "cp /tmp/erlang-cookie-secret/cookie /var/lib/rabbitmq/.erlang.cookie\n"
    "chmod 600 /var/lib/rabbitmq/.erlang.cookie\n";
nlohmann::json erlangCookieVolume(const api::BrokerCluster& cluster);
void placeLikeBrokers(const api::BrokerCluster& cluster, nlohmann::json& pod_spec);

// The Job that runs `rabbitmqctl forget_cluster_node` for each of `departed`
// on `through` (a running member) after a safe scale-down; its annotation
// kDepartedNodesAnnotation lists `departed`, comma-separated.
inline constexpr const char* kDepartedNodesAnnotation = "warren.dev/departed-nodes";
std::string forgetNodesJobName(const api::BrokerCluster& cluster);
nlohmann::json buildForgetNodesJob(const api::BrokerCluster& cluster, const std::string& through,
                                   const std::vector<std::string>& departed);

// The configuration files (also used by the data-plane test).
std::string renderRabbitmqConf(const api::BrokerCluster& cluster);
std::string renderEnabledPlugins(const api::BrokerCluster& cluster);
// Hash of what, when changed, needs the nodes restarted (the lines derived
// from the replica count, the peer list and the partition handling, are
// left out, so scaling does not restart existing nodes).
std::string configChecksum(const api::BrokerCluster& cluster);

}  // namespace warren::builders
