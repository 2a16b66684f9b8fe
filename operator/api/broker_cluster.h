// BrokerCluster (warren.dev/v1alpha1): the typed view of the custom resource
// that the builders and the controller work from, and the names of the
// children it owns. The CRD schema (crds/) applies defaults and most
// validation; parse() re-checks what controllers rely on so that a CR the
// schema let through is reported, not crashed on.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/field_reader.h"
#include "common/result.h"
#include "kube/resource.h"

namespace warren::api {

inline constexpr const char* kGroup = "warren.dev";
inline constexpr const char* kVersion = "v1alpha1";
inline constexpr const char* kBrokerClusterKind = "BrokerCluster";
inline constexpr const char* kFieldManager = "warren-operator";
// Setting this annotation to "true" stops every write for the cluster.
inline constexpr const char* kPauseAnnotation = "warren.dev/pause-reconciliation";
// The label every child carries; pods are selected by it.
inline constexpr const char* kClusterLabel = "warren.dev/cluster";

const kube::ResourceType& brokerClusters();

struct BrokerClusterSpec {
  int replicas = 3;
  bool allow_scale_down = false;
  std::string image = "rabbitmq:4.1-management";
  std::vector<std::string> image_pull_secrets;
  nlohmann::json resources = nlohmann::json::object();
  bool ephemeral = false;
  std::string storage_class_name;
  std::string storage = "10Gi";
  bool reclaim_on_delete = false;
  std::vector<std::string> additional_plugins;
  std::string additional_config;
  // Empty: not set, see effectiveDefaultQueueType().
  std::string default_queue_type;
  bool mqtt_enabled = false;
  int mqtt_port = 1883;

  // The default queue type rendered: the one asked for, else quorum, or
  // classic when MQTT is on. RabbitMQ 4.0's MQTT plugin declares the queue of
  // a clean-session QoS 1 subscription as exclusive and without a type, and a
  // quorum queue cannot be exclusive: with quorum as the default such
  // subscriptions are refused (seen on 4.0.5, "invalid property
  // 'exclusive-owner'"). Applications still declare quorum queues explicitly.
  std::string effectiveDefaultQueueType() const {
    if (!default_queue_type.empty()) return default_queue_type;
    return mqtt_enabled ? "classic" : "quorum";
  }
  std::string service_type = "ClusterIP";
  std::map<std::string, std::string> service_annotations;
  nlohmann::json affinity;     // null when unset
  nlohmann::json tolerations;  // null when unset
  std::map<std::string, std::string> node_selector;
  std::string tls_secret_name;
  std::string erlang_cookie_secret_name;  // bring your own
  std::string default_user_secret_name;   // bring your own
  std::string failover_policy = "Automatic";
  int unhealthy_after_seconds = 5;
  std::vector<std::string> allowed_binding_namespaces;
  int termination_grace_period_seconds = 60;
};

struct BrokerCluster : ObjectIdentity {
  BrokerClusterSpec spec;
  nlohmann::json status = nlohmann::json::object();  // as stored (an object, also when absent)
  nlohmann::json raw;     // the whole object (for owner references and events)

  bool paused() const;
  // status.departedNodes: nodes a safe scale-down removed that the cluster
  // may still list as members (recorded before the StatefulSet is lowered,
  // cleared once the cluster has forgotten them). Entries that are not
  // strings are ignored.
  std::vector<std::string> departedNodes() const;

  // Child names.
  std::string headlessServiceName() const { return name + "-nodes"; }
  std::string clientServiceName() const { return name; }
  std::string statefulSetName() const { return name + "-server"; }
  std::string configMapName() const { return name + "-config"; }
  std::string pdbName() const { return name; }
  std::string erlangCookieSecretName() const;
  std::string defaultUserSecretName() const;
  std::string podName(int ordinal) const { return statefulSetName() + "-" + std::to_string(ordinal); }
  // rabbit@<pod>.<headless service>.<namespace>
  std::string nodeName(int ordinal) const;
  // <client service>.<namespace>.svc
  std::string serviceHost() const { return clientServiceName() + "." + ns + ".svc"; }
  // Whether objects in namespace `other` may use this cluster: its own namespace always, others when
  // spec.failover.allowedBindingNamespaces lists them (or "*").
  bool allowsReferencesFrom(const std::string& other) const;
  std::map<std::string, std::string> selectorLabels() const;
  std::map<std::string, std::string> labels() const;
};

// The DNS name clients use for a node: rabbit@<pod>.<svc>.<ns> -> <pod>.<svc>.<ns>.svc
std::string nodeHost(const std::string& node_name);

// Error reason "InvalidSpec" (terminal) naming the field.
Result<BrokerCluster> parseBrokerCluster(const nlohmann::json& object);

}  // namespace warren::api
