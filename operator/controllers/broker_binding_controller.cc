#include "controllers/broker_binding_controller.h"

#include <algorithm>
#include <chrono>
#include <functional>

#include "api/broker_cluster.h"
#include "binding/config_patch.h"
#include "builders/broker_cluster_children.h"
#include "common/log.h"
#include "kube/tls_material.h"
#include "kube/token_source.h"
#include "runtime/metrics.h"
#include "runtime/object_helpers.h"
#include "runtime/status_draft.h"

namespace warren::controllers {
namespace {

using json = nlohmann::json;
using runtime::Condition;

constexpr const char* kClusterIndex = "cluster";
constexpr const char* kConfigMapTargetIndex = "configmap-target";

// Maps an object to the bindings `index` files under the object's key.
std::function<std::vector<runtime::Request>(const json&)> bindingsIndexedBy(std::shared_ptr<runtime::Informer> bindings,
                                                                            std::string index) {
  return [bindings = std::move(bindings), index = std::move(index)](const json& object) {
    std::vector<runtime::Request> requests;
    for (const auto& binding : bindings->store().byIndex(index, runtime::objectKey(object))) {
      requests.push_back({binding->value("/metadata/namespace"_json_pointer, std::string()),
                          binding->value("/metadata/name"_json_pointer, std::string())});
    }
    return requests;
  };
}

bool readsSecrets(const json& spec) {
  if (!spec.value("credentialsSecretName", "").empty()) return true;
  const json targets = spec.value("targets", json::array());
  return std::any_of(targets.begin(), targets.end(), [](const json& t) { return t.value("kind", "ConfigMap") == "Secret"; });
}

// The endpoint values a target can ask for, for the active node.
std::vector<std::pair<std::string, std::string>> endpointValues(const std::string& node, const json& cluster) {
  const std::string host = api::nodeHost(node);
  const std::string port = std::to_string(builders::kAmqpPort);
  const int mqtt = cluster.value("/spec/mqtt/port"_json_pointer, 1883);
  return {{"host", host}, {"port", port}, {"mqttPort", std::to_string(mqtt)},
          {"uri", "amqp://" + host + ":" + port + "/"}, {"node", node}};
}

const kube::ResourceType& workloadType(const std::string& kind) {
  if (kind == "StatefulSet") return kube::resources::statefulSets();
  if (kind == "DaemonSet") {
    static const kube::ResourceType daemon_sets{"apps", "v1", "DaemonSet", "daemonsets", true};
    return daemon_sets;
  }
  return kube::resources::deployments();
}

struct TargetOutcome {
  std::string missing;   // targets that do not exist
  std::string invalid;   // targets whose path or content is unusable
  bool changed = false;
};

}  // namespace

const kube::ResourceType& brokerBindings() {
  static const kube::ResourceType type{api::kGroup, api::kVersion, "BrokerBinding", "brokerbindings", true};
  return type;
}

BrokerBindingReconciler::BrokerBindingReconciler(std::shared_ptr<kube::Client> client,
                                                 std::shared_ptr<runtime::Informer> bindings,
                                                 std::shared_ptr<runtime::Informer> clusters,
                                                 std::shared_ptr<runtime::EventRecorder> events,
                                                 std::chrono::milliseconds secret_recheck)
    : client_(std::move(client)), bindings_(std::move(bindings)), clusters_(std::move(clusters)), events_(std::move(events)),
      secret_recheck_(secret_recheck) {}

runtime::ReconcileOutcome BrokerBindingReconciler::reconcile(const runtime::Request& request) {
  const runtime::ObjectPtr binding = bindings_->store().get(request.key());
  if (!binding || binding->contains("/metadata/deletionTimestamp"_json_pointer)) return runtime::ReconcileResult{};
  const json& spec = (*binding)["spec"];
  runtime::StatusDraft status(*binding);
  const std::string previous = status.fields().value("currentNode", "");

  auto finish = [&](const Condition& bound) -> runtime::ReconcileOutcome {
    status.setCondition(bound);
    if (auto written = status.write(*client_, brokerBindings(), api::kFieldManager); !written) return written.error();
    runtime::ReconcileResult result;
    if (readsSecrets(spec)) result.requeue_after = secret_recheck_;
    return result;
  };

  // The cluster, here or in a namespace that allows this one.
  const std::string cluster_ns = spec.value("/brokerClusterRef/namespace"_json_pointer, request.ns);
  const std::string cluster_name = spec.value("/brokerClusterRef/name"_json_pointer, std::string());
  const runtime::ObjectPtr cluster = clusters_->store().get(runtime::objectKey(cluster_ns, cluster_name));
  if (!cluster) {
    return finish({"Bound", "False", "ClusterNotFound",
                   "BrokerCluster " + cluster_ns + "/" + cluster_name + " does not exist"});
  }
  if (cluster_ns != request.ns) {
    const json allowed = cluster->value("/spec/failover/allowedBindingNamespaces"_json_pointer, json::array());
    const bool ok = std::any_of(allowed.begin(), allowed.end(), [&](const json& n) { return n == "*" || n == request.ns; });
    if (!ok) {
      return finish({"Bound", "False", "NamespaceNotAllowed",
                     "BrokerCluster " + cluster_ns + "/" + cluster_name + " does not list namespace " + request.ns +
                         " in spec.failover.allowedBindingNamespaces"});
    }
  }
  const std::string node = cluster->value("/status/activeNode"_json_pointer, std::string());
  if (node.empty()) {
    return finish({"Bound", "False", "NoActiveNode", "the BrokerCluster has no active node yet; targets are left as they are"});
  }
  const auto values = endpointValues(node, *cluster);

  // Targets: edit only the named fields; report what cannot be edited.
  TargetOutcome outcome;
  for (const auto& target : spec.value("targets", json::array())) {
    const std::string kind = target.value("kind", "ConfigMap");
    const std::string name = target.value("name", "");
    const std::string key = target.value("key", "");
    const std::string format = target.value("format", "");
    const bool secret = kind == "Secret";
    const auto& type = secret ? kube::resources::secrets() : kube::resources::configMaps();
    auto object = client_->get(type, request.ns, name);
    if (!object) {
      if (!object.error().isNotFound()) return object.error();
      outcome.missing += (outcome.missing.empty() ? "" : ", ") + kind + " " + name;
      continue;
    }
    std::string text;
    if (secret) {
      auto decoded = kube::base64Decode(object->value("/data"_json_pointer, json::object()).value(key, ""));
      if (decoded) text = *decoded;
    } else {
      text = object->value("/data"_json_pointer, json::object()).value(key, "");
    }
    Result<std::string> patched = std::string();
    if (format == "template") {
      patched = binding::renderTemplate(target.value("template", ""), values);
    } else {
      binding::Assignments assignments;
      const json fields = target.value("fields", json::object());
      for (const auto& [field, path] : fields.items()) {
        auto value = std::find_if(values.begin(), values.end(), [&](const auto& v) { return v.first == field; });
        if (value == values.end() || !path.is_string()) continue;
        const bool numeric = format != "env" && (field == "port" || field == "mqttPort");
        assignments.emplace_back(path.get<std::string>(), numeric ? json(std::stoi(value->second)) : json(value->second));
      }
      patched = format == "json" ? binding::patchJson(text, assignments)
              : format == "yaml" ? binding::patchYaml(text, assignments)
                                 : binding::patchEnv(text, assignments);
    }
    if (!patched) {
      outcome.invalid += (outcome.invalid.empty() ? "" : "; ") + kind + " " + name + " key " + key + ": " + patched.error().message;
      continue;
    }
    if (*patched == text) continue;
    json update = *object;
    update["data"][key] = secret ? kube::base64Encode(*patched) : *patched;
    auto written = client_->update(type, request.ns, update, {api::kFieldManager, false});
    if (!written) return written.error();  // a conflict retries with backoff
    log::info("target patched", {log::Field("binding", request.key()), log::Field("kind", kind),
                                 log::Field("name", name), log::Field("key", key), log::Field("node", node)});
    outcome.changed = true;
  }
  status.setCondition(outcome.missing.empty()
                          ? Condition{"TargetMissing", "False", "AllTargetsExist", ""}
                          : Condition{"TargetMissing", "True", "TargetMissing", outcome.missing + " not found"});
  status.setCondition(outcome.invalid.empty() ? Condition{"InvalidPath", "False", "AllPathsValid", ""}
                                              : Condition{"InvalidPath", "True", "InvalidPath", outcome.invalid});
  if (outcome.changed) status.fields()["lastPatched"] = runtime::formatTime(std::chrono::system_clock::now());

  // The cluster's credentials, copied next to the app when asked for.
  if (const std::string copy = spec.value("credentialsSecretName", ""); !copy.empty()) {
    auto parsed = api::parseBrokerCluster(*cluster);
    auto source = parsed ? client_->get(kube::resources::secrets(), cluster_ns, parsed->defaultUserSecretName())
                         : Result<json>(parsed.error());
    if (!source) {
      if (!source.error().isNotFound()) return source.error();
      outcome.missing += (outcome.missing.empty() ? "" : ", ") + std::string("the cluster's default-user Secret");
    } else {
      const json secret = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"type", source->value("type", "Opaque")},
                           {"metadata", {{"name", copy}, {"namespace", request.ns},
                                         {"ownerReferences", json::array({runtime::controllerReference(*binding)})}}},
                           {"data", source->value("data", json::object())}};
      if (auto written = runtime::createOrUpdateData(*client_, *client_, kube::resources::secrets(), secret, api::kFieldManager);
          !written) {
        return written.error();
      }
    }
  }

  // Workloads that cannot reconnect: restart once for each new node.
  if (!previous.empty() && previous != node) {
    for (const auto& workload : spec.value("workloads", json::array())) {
      const auto& type = workloadType(workload.value("kind", "Deployment"));
      const std::string name = workload.value("name", "");
      auto live = client_->get(type, request.ns, name);
      if (!live) {
        if (live.error().isNotFound()) continue;
        return live.error();
      }
      if (live->value("/spec/template/metadata/annotations"_json_pointer, json::object()).value(kReroutedToAnnotation, "") == node) {
        continue;  // already restarted for this node
      }
      auto restarted = client_->patch(type, request.ns, name, kube::PatchType::kMerge,
                                      {{"spec", {{"template", {{"metadata", {{"annotations",
                                        {{kReroutedToAnnotation, node},
                                         {"warren.dev/restartedAt", runtime::formatTime(std::chrono::system_clock::now())}}}}}}}}}},
                                      {api::kFieldManager, false});
      if (!restarted) return restarted.error();
      log::info("workload restarted", {log::Field("binding", request.key()), log::Field("kind", type.kind),
                                       log::Field("name", name), log::Field("node", node)});
    }
  }
  if (previous != node) {
    status.fields()["currentNode"] = node;
    const std::string failed_over_at = cluster->value("/status/lastFailover/time"_json_pointer, std::string());
    if (!previous.empty()) {
      if (auto at = kube::parseRfc3339(failed_over_at)) {
        metrics::registry()
            .histogram("warren_reroute_latency_seconds",
                       "From the active node's move to every target of a binding patched.", {}, metrics::latencyBuckets())
            .get()
            .observe(std::chrono::duration<double>(std::chrono::system_clock::now() - *at).count());
      }
      events_->record(*binding, "Normal", "Rerouted", "clients moved from " + previous + " to " + node);
    }
  }
  const bool bound = outcome.missing.empty() && outcome.invalid.empty();
  return finish(bound ? Condition{"Bound", "True", "Bound", "targets point at " + node}
                      : Condition{"Bound", "False", outcome.missing.empty() ? "InvalidPath" : "TargetMissing",
                                  outcome.missing.empty() ? outcome.invalid : outcome.missing + " not found"});
}

void addBrokerBindingController(runtime::Manager& manager, const std::string& ns, int workers,
                                std::chrono::milliseconds secret_recheck) {
  runtime::InformerOptions binding_options{brokerBindings(), ns, "", ""};
  binding_options.watcher.name = "brokerbindings.warren.dev";
  auto bindings = manager.addInformer(binding_options);
  bindings->addIndex(kClusterIndex, [](const json& binding) {
    const std::string own = binding.value("/metadata/namespace"_json_pointer, std::string());
    return std::vector<std::string>{runtime::objectKey(
        binding.value("/spec/brokerClusterRef/namespace"_json_pointer, own),
        binding.value("/spec/brokerClusterRef/name"_json_pointer, std::string()))};
  });
  bindings->addIndex(kConfigMapTargetIndex, [](const json& binding) {
    const std::string own = binding.value("/metadata/namespace"_json_pointer, std::string());
    std::vector<std::string> keys;
    for (const auto& target : binding.value("/spec/targets"_json_pointer, json::array())) {
      if (target.value("kind", "ConfigMap") == "ConfigMap") keys.push_back(runtime::objectKey(own, target.value("name", "")));
    }
    return keys;
  });
  // Bindings may point at clusters in other namespaces: when warren watches
  // every namespace, so does this informer; with --namespace, only that one.
  runtime::InformerOptions cluster_options{api::brokerClusters(), ns, "", ""};
  auto clusters = manager.addInformer(cluster_options);
  // ConfigMap targets, watched for their metadata only: a target created
  // after its binding, or re-applied by someone with the old address, is
  // patched at once. Only names are cached, never the data.
  runtime::InformerOptions config_map_options{kube::resources::configMaps(), ns, "", ""};
  config_map_options.watcher.name = "configmaps (metadata)";
  config_map_options.metadata_only = true;
  config_map_options.transform_name = runtime::kKeepIdentityOnly;
  config_map_options.transform = runtime::keepIdentityOnly;
  auto config_maps = manager.addInformer(config_map_options);
  auto events = std::make_shared<runtime::EventRecorder>(manager.client(), "warren-operator");
  auto reconciler = std::make_shared<BrokerBindingReconciler>(manager.client(), bindings, clusters, events, secret_recheck);
  runtime::ControllerOptions options;
  options.name = "brokerbinding";
  options.max_concurrent_reconciles = workers;
  auto controller = std::make_shared<runtime::Controller>(options, reconciler);
  controller->watchPrimary(*bindings);
  controller->watchMapped(*clusters, bindingsIndexedBy(bindings, kClusterIndex));
  controller->watchMapped(*config_maps, bindingsIndexedBy(bindings, kConfigMapTargetIndex));
  manager.addController(controller);
}

}  // namespace warren::controllers
