#include "controllers/broker_binding_controller.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>

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
      requests.push_back(runtime::Request::fromKey(runtime::objectKey(*binding)));
    }
    return requests;
  };
}

// The endpoint values a target can ask for, for the active node.
std::vector<std::pair<std::string, std::string>> endpointValues(const std::string& node, int mqtt_port) {
  const std::string host = api::nodeHost(node);
  const std::string port = std::to_string(builders::kAmqpPort);
  return {{"host", host}, {"port", port}, {"mqttPort", std::to_string(mqtt_port)},
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

BrokerBindingReconciler::BrokerBindingReconciler(std::shared_ptr<kube::ObjectClient> client,
                                                 std::shared_ptr<runtime::Informer> bindings,
                                                 std::shared_ptr<runtime::Informer> clusters,
                                                 std::shared_ptr<runtime::EventRecorder> events,
                                                 std::chrono::milliseconds secret_recheck,
                                                 std::shared_ptr<runtime::Informer> config_map_metadata)
    : client_(std::move(client)), bindings_(std::move(bindings)), clusters_(std::move(clusters)), events_(std::move(events)),
      secret_recheck_(secret_recheck), config_map_metadata_(std::move(config_map_metadata)) {}

runtime::ReconcileOutcome BrokerBindingReconciler::reconcile(const runtime::Request& request) {
  const runtime::ObjectPtr object = bindings_->store().get(request.key());
  if (!object || object->contains("/metadata/deletionTimestamp"_json_pointer)) {
    deferred_status_.drop(request.key());
    return runtime::ReconcileResult{};
  }
  runtime::StatusDraft status(*object);
  auto parsed = api::parseBrokerBinding(*object);
  if (!parsed) {
    // Nothing is read or written for a binding warren cannot understand; a fix of the spec comes back as an event.
    status.setCondition({"Bound", "False", "InvalidSpec", parsed.error().message});
    if (auto written = status.write(*client_, brokerBindings(), api::kFieldManager); !written) return written.error();
    return runtime::ReconcileResult{};
  }
  const api::BrokerBinding& binding = *parsed;
  const std::string previous = runtime::stringAt(*object, "/status/currentNode"_json_pointer);

  // Secrets warren does not watch (see secret_recheck.h) are re-read every secret_recheck_.
  bool reads_unwatched_secrets = binding.hasSecretTargets();
  auto finish = [&](const Condition& bound) -> runtime::ReconcileOutcome {
    status.setCondition(bound);
    if (auto written = status.write(*client_, brokerBindings(), api::kFieldManager); !written) return written.error();
    runtime::ReconcileResult result;
    if (reads_unwatched_secrets) result.requeue_after = secret_recheck_;
    return result;
  };

  // The cluster, here or in a namespace that allows this one.
  const std::string& cluster_ns = binding.spec.cluster_namespace;
  const std::string& cluster_name = binding.spec.cluster_name;
  const runtime::ObjectPtr cluster_object = clusters_->store().get(runtime::objectKey(cluster_ns, cluster_name));
  if (!cluster_object) {
    return finish({"Bound", "False", "ClusterNotFound",
                   "BrokerCluster " + cluster_ns + "/" + cluster_name + " does not exist"});
  }
  auto cluster = api::parseBrokerCluster(*cluster_object);
  if (!cluster) {
    return finish({"Bound", "False", "ClusterInvalid",
                   "BrokerCluster " + cluster_ns + "/" + cluster_name + " is invalid: " + cluster.error().message});
  }
  if (!binding.spec.credentials_secret_name.empty() && !cluster->spec.default_user_secret_name.empty()) {
    reads_unwatched_secrets = true;  // the copy's source is the user's own Secret
  }
  if (!cluster->allowsReferencesFrom(request.ns)) {
    return finish({"Bound", "False", "NamespaceNotAllowed",
                   "BrokerCluster " + cluster_ns + "/" + cluster_name + " does not list namespace " + request.ns +
                       " in spec.failover.allowedBindingNamespaces"});
  }
  const std::string node = runtime::stringAt(*cluster_object, "/status/activeNode"_json_pointer);
  if (node.empty()) {
    return finish({"Bound", "False", "NoActiveNode", "the BrokerCluster has no active node yet; targets are left as they are"});
  }
  const auto values = endpointValues(node, cluster->spec.mqtt_port);

  // Targets: edit only the named fields; report what cannot be edited.
  TargetOutcome outcome;
  for (const auto& target : binding.spec.targets) {
    const auto& type = target.isSecret() ? kube::resources::secrets() : kube::resources::configMaps();
    std::string text;
    std::string resource_version;
    std::optional<TargetTextCache::Text> known;
    if (!target.isSecret() && config_map_metadata_) {
      if (const auto meta = config_map_metadata_->store().get(runtime::objectKey(request.ns, target.name))) {
        known = written_targets_.current(request.ns, target.name, target.key,
                                         runtime::stringAt(*meta, "/metadata/resourceVersion"_json_pointer));
      }
    }
    if (known) {
      text = std::move(known->text);
      resource_version = std::move(known->resource_version);
    } else {
      auto live = client_->get(type, request.ns, target.name);
      if (!live) {
        if (!live.error().isNotFound()) return live.error();
        written_targets_.forget(request.ns, target.name);
        outcome.missing += (outcome.missing.empty() ? "" : ", ") + target.kindName() + " " + target.name;
        continue;
      }
      resource_version = runtime::stringAt(*live, "/metadata/resourceVersion"_json_pointer);
      const json data = live->contains("data") && (*live)["data"].is_object() ? (*live)["data"] : json::object();
      if (const auto it = data.find(target.key); it != data.end() && it->is_string()) {
        if (target.isSecret()) {
          auto decoded = kube::base64Decode(it->get<std::string>());
          if (decoded) text = *decoded;
        } else {
          text = it->get<std::string>();
        }
      }
    }
    Result<std::string> patched = std::string();
    if (target.format == api::BindingTarget::Format::kTemplate) {
      patched = binding::renderTemplate(target.template_text, values);
    } else {
      binding::Assignments assignments;
      for (const auto& [field, path] : target.fields) {
        auto value = std::find_if(values.begin(), values.end(), [&](const auto& v) { return v.first == field; });
        if (value == values.end()) continue;
        const bool numeric = target.format != api::BindingTarget::Format::kEnv && (field == "port" || field == "mqttPort");
        assignments.emplace_back(path, numeric ? json(std::stoi(value->second)) : json(value->second));
      }
      patched = target.format == api::BindingTarget::Format::kJson   ? binding::patchJson(text, assignments)
              : target.format == api::BindingTarget::Format::kYaml ? binding::patchYaml(text, assignments)
                                                                   : binding::patchEnv(text, assignments);
    }
    if (!patched) {
      outcome.invalid += (outcome.invalid.empty() ? "" : "; ") + target.kindName() + " " + target.name + " key " +
                         target.key + ": " + patched.error().message;
      continue;
    }
    if (*patched == text) continue;
    // A merge patch of this one key under warren's field manager, so managedFields shows warren owns exactly
    // it, with the resourceVersion read above as a precondition (a concurrent edit is a Conflict, retried).
    const json patch = {{"metadata", {{"resourceVersion", resource_version}}},
                        {"data", {{target.key, target.isSecret() ? kube::base64Encode(*patched) : *patched}}}};
    auto written = client_->patch(type, request.ns, target.name, kube::PatchType::kMerge, patch, {api::kFieldManager, false});
    if (!written) {
      written_targets_.forget(request.ns, target.name);
      return written.error();  // a conflict retries with backoff, reading the target again
    }
    if (!target.isSecret()) {
      written_targets_.remember(request.ns, target.name, target.key,
                                {runtime::stringAt(*written, "/metadata/resourceVersion"_json_pointer), *patched});
    }
    log::info("target patched", {log::Field("binding", request.key()), log::Field("kind", target.kindName()),
                                 log::Field("name", target.name), log::Field("key", target.key), log::Field("node", node)});
    outcome.changed = true;
  }
  status.setCondition(outcome.missing.empty()
                          ? Condition{"TargetMissing", "False", "AllTargetsExist", ""}
                          : Condition{"TargetMissing", "True", "TargetMissing", outcome.missing + " not found"});
  status.setCondition(outcome.invalid.empty() ? Condition{"InvalidPath", "False", "AllPathsValid", ""}
                                              : Condition{"InvalidPath", "True", "InvalidPath", outcome.invalid});
  // Microseconds: with lastFailover.time the reroute latency of each binding is read from status exactly.
  std::string patched_at;
  if (outcome.changed) {
    patched_at = runtime::formatMicroTime(std::chrono::system_clock::now());
  } else if (auto deferred = deferred_status_.take(request.key(), node)) {
    patched_at = *deferred;  // the targets were patched on the pass that put this status off
  }
  if (!patched_at.empty()) status.fields()["lastPatched"] = patched_at;

  // The cluster's credentials, copied next to the app when asked for, into a Secret this binding owns.
  std::string not_owned;
  if (const std::string& copy = binding.spec.credentials_secret_name; !copy.empty()) {
    auto source = client_->get(kube::resources::secrets(), cluster_ns, cluster->defaultUserSecretName());
    if (!source) {
      if (!source.error().isNotFound()) return source.error();
      outcome.missing += (outcome.missing.empty() ? "" : ", ") + std::string("the cluster's default-user Secret");
    } else {
      const json secret = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"type", source->value("type", "Opaque")},
                           {"metadata", {{"name", copy}, {"namespace", request.ns},
                                         {"labels", {{kManagedByLabel, kManagedByWarren}}},
                                         {"ownerReferences", json::array({runtime::controllerReference(*object)})}}},
                           {"data", source->value("data", json::object())}};
      if (auto written = runtime::createOrUpdateData(*client_, *client_, kube::resources::secrets(), secret, api::kFieldManager);
          !written) {
        if (!written.error().isNotOwned()) return written.error();
        not_owned = written.error().message;
      }
    }
  }

  // Workloads that cannot reconnect: restart once for each new node.
  if (!previous.empty() && previous != node) {
    for (const auto& workload : binding.spec.workloads) {
      const auto& type = workloadType(workload.kind);
      auto live = client_->get(type, request.ns, workload.name);
      if (!live) {
        if (live.error().isNotFound()) continue;
        return live.error();
      }
      const json annotations = live->value("/spec/template/metadata/annotations"_json_pointer, json::object());
      if (annotations.is_object() && annotations.value(kReroutedToAnnotation, json()) == node) {
        continue;  // already restarted for this node
      }
      auto restarted = client_->patch(type, request.ns, workload.name, kube::PatchType::kMerge,
                                      {{"spec", {{"template", {{"metadata", {{"annotations",
                                        {{kReroutedToAnnotation, node},
                                         {"warren.dev/restartedAt", runtime::formatTime(std::chrono::system_clock::now())}}}}}}}}}},
                                      {api::kFieldManager, false});
      if (!restarted) return restarted.error();
      log::info("workload restarted", {log::Field("binding", request.key()), log::Field("kind", type.kind),
                                       log::Field("name", workload.name), log::Field("node", node)});
    }
  }
  // A move: every bound client's targets come before any binding's bookkeeping. This binding's status (and
  // its Rerouted Event) waits behind the bindings already queued, which the same move woke.
  if (outcome.changed && !previous.empty() && previous != node) {
    deferred_status_.put(request.key(), node, patched_at);
    runtime::ReconcileResult later;
    later.requeue_after = std::chrono::milliseconds(0);
    return later;
  }
  bool rerouted = false;
  if (previous != node) {
    status.fields()["currentNode"] = node;
    rerouted = !previous.empty();
  }
  const bool bound = outcome.missing.empty() && outcome.invalid.empty() && not_owned.empty();
  const Condition condition =
      bound ? Condition{"Bound", "True", "Bound", "targets point at " + node}
      : !not_owned.empty()       ? Condition{"Bound", "False", "NotOwned", "credentialsSecretName: " + not_owned}
      : !outcome.missing.empty() ? Condition{"Bound", "False", "TargetMissing", outcome.missing + " not found"}
                                 : Condition{"Bound", "False", "InvalidPath", outcome.invalid};
  auto finished = finish(condition);
  // The move is announced once its status is written: a reconcile from a stale cache gets a Conflict above.
  if (finished && rerouted) {
    const auto moved_at = kube::parseRfc3339(runtime::stringAt(*cluster_object, "/status/lastFailover/time"_json_pointer));
    const auto done_at = kube::parseRfc3339(patched_at);
    if (moved_at && done_at) {
      metrics::registry()
          .histogram("warren_reroute_latency_seconds",
                     "From the active node's move to every target of a binding patched.", {}, metrics::latencyBuckets())
          .get()
          .observe(std::chrono::duration<double>(*done_at - *moved_at).count());
    }
    events_->record(*object, "Normal", "Rerouted", "clients moved from " + previous + " to " + node);
  }
  return finished;
}

void addBrokerBindingController(runtime::Manager& manager, const std::string& ns, int workers,
                                std::chrono::milliseconds secret_recheck) {
  runtime::InformerOptions binding_options{brokerBindings(), ns, "", ""};
  binding_options.watcher.name = "brokerbindings.warren.dev";
  auto bindings = manager.addInformer(binding_options);
  // Indexes read the typed binding: one that does not parse is indexed under nothing (its reconcile reports it).
  bindings->addIndex(kClusterIndex, [](const json& object) {
    auto binding = api::parseBrokerBinding(object);
    if (!binding) return std::vector<std::string>{};
    return std::vector<std::string>{runtime::objectKey(binding->spec.cluster_namespace, binding->spec.cluster_name)};
  });
  bindings->addIndex(kConfigMapTargetIndex, [](const json& object) {
    std::vector<std::string> keys;
    auto binding = api::parseBrokerBinding(object);
    if (!binding) return keys;
    for (const auto& target : binding->spec.targets) {
      if (!target.isSecret()) keys.push_back(runtime::objectKey(binding->ns, target.name));
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
  auto secrets = addWarrenSecretsInformer(manager, ns);
  auto events = std::make_shared<runtime::EventRecorder>(manager.client(), "warren-operator", runtime::EventDelivery::kBackground);
  auto reconciler =
      std::make_shared<BrokerBindingReconciler>(manager.client(), bindings, clusters, events, secret_recheck, config_maps);
  runtime::ControllerOptions options;
  options.name = "brokerbinding";
  options.max_concurrent_reconciles = workers;
  auto controller = std::make_shared<runtime::Controller>(options, reconciler);
  controller->watchPrimary(*bindings);
  controller->watchMapped(*clusters, bindingsIndexedBy(bindings, kClusterIndex));
  controller->watchMapped(*config_maps, bindingsIndexedBy(bindings, kConfigMapTargetIndex));
  // A credentials copy changed or went (its owner binding), or the cluster Secret it copies (the bindings of
  // that cluster, found through the Secret's cluster label).
  controller->watchOwned(*secrets, api::kGroup, "BrokerBinding");
  controller->watchMapped(*secrets, [bindings](const json& secret) {
    std::vector<runtime::Request> requests;
    const std::string cluster = clusterLabelOf(secret);
    if (cluster.empty()) return requests;
    const std::string key = runtime::objectKey(runtime::stringAt(secret, "/metadata/namespace"_json_pointer), cluster);
    for (const auto& binding : bindings->store().byIndex(kClusterIndex, key)) {
      requests.push_back(runtime::Request::fromKey(runtime::objectKey(*binding)));
    }
    return requests;
  });
  manager.addController(controller);
}

}  // namespace warren::controllers
