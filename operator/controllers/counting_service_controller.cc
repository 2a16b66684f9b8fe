#include "controllers/counting_service_controller.h"

#include "api/broker_cluster.h"
#include "builders/broker_cluster_children.h"
#include "kube/tls_material.h"
#include "runtime/object_helpers.h"
#include "runtime/status_draft.h"

namespace warren::controllers {
namespace {

using json = nlohmann::json;
using runtime::Condition;

constexpr const char* kCountingLabel = "warren.dev/counting";
constexpr int kHealthPort = 8081;

json deployment(const json& owner, const std::string& ns, const std::string& name, const std::string& role,
                const std::string& image, const std::string& program, const std::string& secret,
                const std::string& checksum, const json& resources) {
  const json labels = {{kCountingLabel, owner["metadata"]["name"]}, {"app.kubernetes.io/component", role},
                       {"app.kubernetes.io/managed-by", "warren-operator"}};
  json container = {
      {"name", role},
      {"image", image},
      {"command", json::array({program, "/etc/counting/" + role + ".json"})},
      {"ports", json::array({{{"name", "health"}, {"containerPort", kHealthPort}}})},
      {"readinessProbe", {{"httpGet", {{"path", "/healthz"}, {"port", "health"}}}, {"periodSeconds", 5}}},
      {"volumeMounts", json::array({{{"name", "config"}, {"mountPath", "/etc/counting"}, {"readOnly", true}}})}};
  if (resources.is_object()) container["resources"] = resources;
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"labels", labels},
                        {"ownerReferences", json::array({runtime::controllerReference(owner)})}}},
          {"spec",
           {{"replicas", 1},
            {"selector", {{"matchLabels", {{kCountingLabel, owner["metadata"]["name"]}, {"app.kubernetes.io/component", role}}}}},
            {"template",
             {{"metadata", {{"labels", labels}, {"annotations", {{"warren.dev/config-checksum", checksum}}}}},
              {"spec", {{"containers", json::array({container})},
                        {"volumes", json::array({{{"name", "config"}, {"secret", {{"secretName", secret}}}}})}}}}}}}};
}

}  // namespace

const kube::ResourceType& countingServices() {
  static const kube::ResourceType type{api::kGroup, api::kVersion, "CountingService", "countingservices", true};
  return type;
}

CountingServiceReconciler::CountingServiceReconciler(std::shared_ptr<kube::Client> client,
                                                     std::shared_ptr<runtime::Informer> services,
                                                     std::shared_ptr<runtime::Informer> clusters,
                                                     std::shared_ptr<runtime::Informer> deployments,
                                                     std::chrono::milliseconds secret_recheck)
    : client_(std::move(client)), services_(std::move(services)), clusters_(std::move(clusters)),
      deployments_(std::move(deployments)), secret_recheck_(secret_recheck) {}

runtime::ReconcileOutcome CountingServiceReconciler::reconcile(const runtime::Request& request) {
  const runtime::ObjectPtr object = services_->store().get(request.key());
  if (!object || object->contains("/metadata/deletionTimestamp"_json_pointer)) return runtime::ReconcileResult{};
  const json& spec = (*object)["spec"];
  runtime::StatusDraft draft(*object);
  json& status = draft.fields();
  // `recheck`: the outcome depends on Secrets, which no watch reports changes of.
  auto finish = [&](const Condition& ready, bool recheck = false) -> runtime::ReconcileOutcome {
    draft.setCondition(ready);
    if (auto written = draft.write(*client_, countingServices(), api::kFieldManager); !written) return written.error();
    runtime::ReconcileResult result;
    if (recheck) result.requeue_after = secret_recheck_;
    return result;
  };
  // The start time is set once: the count is measured from it forever after.
  if (!status.contains("startTime")) status["startTime"] = runtime::formatTime(std::chrono::system_clock::now());

  const std::string cluster_name = spec.value("/brokerClusterRef/name"_json_pointer, std::string());
  const runtime::ObjectPtr cluster = clusters_->store().get(runtime::objectKey(request.ns, cluster_name));
  if (!cluster) return finish({"Ready", "False", "ClusterNotFound", "BrokerCluster " + cluster_name + " does not exist"});
  const std::string protocol = spec.value("protocol", std::string("mqtt"));
  if (protocol == "mqtt" && !cluster->value("/spec/mqtt/enabled"_json_pointer, false)) {
    return finish({"Ready", "False", "MqttDisabled",
                   "BrokerCluster " + cluster_name + " must have spec.mqtt.enabled: true for protocol mqtt"});
  }
  const std::string node = cluster->value("/status/activeNode"_json_pointer, std::string());
  if (node.empty()) return finish({"Ready", "False", "NoActiveNode", "the BrokerCluster has no active node yet"});
  auto parsed = api::parseBrokerCluster(*cluster);
  if (!parsed) return finish({"Ready", "False", "ClusterInvalid", parsed.error().message});
  auto user = client_->get(kube::resources::secrets(), request.ns, parsed->defaultUserSecretName());
  if (!user) {
    if (user.error().isNotFound()) {
      return finish({"Ready", "False", "CredentialsMissing",
                     "the BrokerCluster's default-user Secret " + parsed->defaultUserSecretName() + " does not exist"},
                    true);
    }
    return user.error();
  }
  auto decode = [&](const char* key) {
    auto value = kube::base64Decode(user->value("/data"_json_pointer, json::object()).value(key, ""));
    return value ? *value : std::string();
  };

  // One config per program, in a Secret because it holds the password.
  const json base = {{"broker", {{"protocol", protocol},
                                 {"host", api::nodeHost(node)},
                                 {"port", protocol == "amqp" ? builders::kAmqpPort : parsed->spec.mqtt_port},
                                 {"username", decode("username")},
                                 {"password", decode("password")}}},
                     {"topic", "warren/counting/" + request.ns + "/" + request.name},
                     {"intervalSeconds", spec.value("intervalSeconds", 1)},
                     {"startTime", status["startTime"]},
                     {"healthAddress", ":" + std::to_string(kHealthPort)},
                     {"bufferSize", 100}};
  json client_config = base;
  client_config["recordFile"] = "/tmp/received.log";
  const std::string secret_name = request.name + "-config";
  const json data = {{"service.json", kube::base64Encode(base.dump(2))}, {"client.json", kube::base64Encode(client_config.dump(2))}};
  const std::string checksum = kube::sha256Hex(data.dump());
  const json secret = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"type", "Opaque"},
                       {"metadata", {{"name", secret_name}, {"namespace", request.ns},
                                     {"labels", {{kCountingLabel, request.name}}},
                                     {"ownerReferences", json::array({runtime::controllerReference(*object)})}}},
                       {"data", data}};
  if (auto written = runtime::createOrUpdateData(*client_, *client_, kube::resources::secrets(), secret, api::kFieldManager);
      !written) {
    return written.error();
  }
  const json resources = spec.value("resources", json());
  for (const auto& [role, image_key, program] :
       {std::tuple<std::string, std::string, std::string>{"service", "serviceImage", "warren-counting-service"},
        {"client", "clientImage", "warren-counting-client"}}) {
    const json desired = deployment(*object, request.ns, request.name + "-" + role, role,
                                    spec.value(image_key, "warren-counting:0.1.0"), program, secret_name, checksum, resources);
    const runtime::ObjectPtr live = deployments_->store().get(runtime::objectKey(request.ns, request.name + "-" + role));
    if (auto applied = runtime::applyIfChanged(*client_, kube::resources::deployments(), request.ns, live.get(), desired,
                                               api::kFieldManager);
        !applied) {
      return applied.error();
    }
  }
  status["currentNode"] = node;
  return finish({"Ready", "True", "Configured", "service and client point at " + node}, true);
}

void addCountingServiceController(runtime::Manager& manager, const std::string& ns, int workers,
                                  std::chrono::milliseconds secret_recheck) {
  runtime::InformerOptions service_options{countingServices(), ns, "", ""};
  service_options.watcher.name = "countingservices.warren.dev";
  auto services = manager.addInformer(service_options);
  runtime::InformerOptions cluster_options{api::brokerClusters(), ns, "", ""};
  auto clusters = manager.addInformer(cluster_options);
  runtime::InformerOptions deployment_options{kube::resources::deployments(), ns, kCountingLabel, ""};
  deployment_options.watcher.name = "deployments.apps(counting)";
  auto deployments = manager.addInformer(deployment_options);
  auto reconciler = std::make_shared<CountingServiceReconciler>(manager.client(), services, clusters, deployments,
                                                                secret_recheck);
  runtime::ControllerOptions options;
  options.name = "countingservice";
  options.max_concurrent_reconciles = workers;
  auto controller = std::make_shared<runtime::Controller>(options, reconciler);
  controller->watchPrimary(*services);
  controller->watchOwned(*deployments, api::kGroup, "CountingService");
  controller->watchMapped(*clusters, [services](const json& cluster) {
    std::vector<runtime::Request> requests;
    const std::string ns_of = cluster.value("/metadata/namespace"_json_pointer, std::string());
    const std::string name = cluster.value("/metadata/name"_json_pointer, std::string());
    for (const auto& service : services->store().byIndex(runtime::kNamespaceIndex, ns_of)) {
      if (service->value("/spec/brokerClusterRef/name"_json_pointer, std::string()) == name) {
        requests.push_back({ns_of, service->value("/metadata/name"_json_pointer, std::string())});
      }
    }
    return requests;
  });
  manager.addController(controller);
}

}  // namespace warren::controllers
