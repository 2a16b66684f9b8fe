#include "controllers/counting_service_controller.h"

#include "api/broker_cluster.h"
#include "builders/broker_cluster_children.h"
#include "builders/pod_security.h"
#include "kube/tls_material.h"
#include "runtime/object_helpers.h"
#include "runtime/status_draft.h"

namespace warren::controllers {
namespace {

using json = nlohmann::json;
using runtime::Condition;

constexpr const char* kCountingLabel = "warren.dev/counting";
constexpr int kHealthPort = 8081;

json deployment(const json& owner, const api::CountingService& service, const std::string& role, const std::string& image,
                const std::string& program, const std::string& checksum) {
  const json labels = {{kCountingLabel, service.name}, {"app.kubernetes.io/component", role},
                       {"app.kubernetes.io/managed-by", "warren-operator"}};
  json container = {
      {"name", role},
      {"image", image},
      {"command", json::array({program, "/etc/counting/" + role + ".json"})},
      {"ports", json::array({{{"name", "health"}, {"containerPort", kHealthPort}}})},
      {"readinessProbe", {{"httpGet", {{"path", "/healthz"}, {"port", "health"}}}, {"periodSeconds", 5}}},
      {"securityContext", builders::restrictedContainerSecurity()},
      {"volumeMounts", json::array({{{"name", "config"}, {"mountPath", "/etc/counting"}, {"readOnly", true}},
                                    {{"name", "tmp"}, {"mountPath", "/tmp"}}})}};
  if (service.spec.resources.is_object()) container["resources"] = service.spec.resources;
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", service.name + "-" + role}, {"namespace", service.ns}, {"labels", labels},
                        {"ownerReferences", json::array({runtime::controllerReference(owner)})}}},
          {"spec",
           {{"replicas", 1},
            {"selector", {{"matchLabels", {{kCountingLabel, service.name}, {"app.kubernetes.io/component", role}}}}},
            {"template",
             {{"metadata", {{"labels", labels}, {"annotations", {{"warren.dev/config-checksum", checksum}}}}},
              {"spec", {{"securityContext", builders::restrictedPodSecurity()},
                        {"containers", json::array({container})},
                        {"volumes", json::array({{{"name", "config"}, {"secret", {{"secretName", service.configSecretName()}}}},
                                                 {{"name", "tmp"}, {"emptyDir", json::object()}}})}}}}}}}};
}

}  // namespace

CountingServiceReconciler::CountingServiceReconciler(std::shared_ptr<kube::ObjectClient> client,
                                                     std::shared_ptr<runtime::Informer> services,
                                                     std::shared_ptr<runtime::Informer> clusters,
                                                     std::shared_ptr<runtime::Informer> deployments,
                                                     std::chrono::milliseconds secret_recheck)
    : client_(std::move(client)), services_(std::move(services)), clusters_(std::move(clusters)),
      deployments_(std::move(deployments)), secret_recheck_(secret_recheck) {}

runtime::ReconcileOutcome CountingServiceReconciler::reconcile(const runtime::Request& request) {
  const runtime::ObjectPtr object = services_->store().get(request.key());
  if (!object || object->contains("/metadata/deletionTimestamp"_json_pointer)) return runtime::ReconcileResult{};
  runtime::StatusDraft draft(*object);
  json& status = draft.fields();
  auto parsed = api::parseCountingService(*object);
  if (!parsed) {
    draft.setCondition({"Ready", "False", "InvalidSpec", parsed.error().message});
    if (auto written = draft.write(*client_, countingServices(), api::kFieldManager); !written) return written.error();
    return runtime::ReconcileResult{};
  }
  const api::CountingService& service = *parsed;
  // `recheck`: the outcome depends on Secrets, which no watch reports changes of.
  auto finish = [&](const Condition& ready, bool recheck = false) -> runtime::ReconcileOutcome {
    draft.setCondition(ready);
    if (auto written = draft.write(*client_, countingServices(), api::kFieldManager); !written) return written.error();
    runtime::ReconcileResult result;
    if (recheck) result.requeue_after = secret_recheck_;
    return result;
  };
  // The start time is set once: the count is measured from it forever after. The status write carries the
  // cached resourceVersion, so a reconcile on a cache that has not seen it yet cannot stamp a second one.
  const std::string start_time =
      service.start_time.empty() ? runtime::formatTime(std::chrono::system_clock::now()) : service.start_time;
  status["startTime"] = start_time;

  const runtime::ObjectPtr cluster_object = clusters_->store().get(runtime::objectKey(request.ns, service.spec.cluster_name));
  if (!cluster_object) {
    return finish({"Ready", "False", "ClusterNotFound", "BrokerCluster " + service.spec.cluster_name + " does not exist"});
  }
  auto cluster = api::parseBrokerCluster(*cluster_object);
  if (!cluster) return finish({"Ready", "False", "ClusterInvalid", cluster.error().message});
  const std::string& protocol = service.spec.protocol;
  if (protocol == "mqtt" && !cluster->spec.mqtt_enabled) {
    return finish({"Ready", "False", "MqttDisabled",
                   "BrokerCluster " + service.spec.cluster_name + " must have spec.mqtt.enabled: true for protocol mqtt"});
  }
  const std::string node = runtime::stringAt(*cluster_object, "/status/activeNode"_json_pointer);
  if (node.empty()) return finish({"Ready", "False", "NoActiveNode", "the BrokerCluster has no active node yet"});
  // warren watches the default-user Secret it made; one the user brought is re-read every secret_recheck_.
  const bool recheck = !cluster->spec.default_user_secret_name.empty();
  auto user = client_->get(kube::resources::secrets(), request.ns, cluster->defaultUserSecretName());
  if (!user) {
    if (user.error().isNotFound()) {
      return finish({"Ready", "False", "CredentialsMissing",
                     "the BrokerCluster's default-user Secret " + cluster->defaultUserSecretName() + " does not exist"},
                    recheck);
    }
    return user.error();
  }

  // One config per program, in a Secret because it holds the password.
  const json base = {{"broker", {{"protocol", protocol},
                                 {"host", api::nodeHost(node)},
                                 {"port", protocol == "amqp" ? builders::kAmqpPort : cluster->spec.mqtt_port},
                                 {"username", runtime::secretValue(*user, "username")},
                                 {"password", runtime::secretValue(*user, "password")}}},
                     {"topic", "warren/counting/" + request.ns + "/" + request.name},
                     {"intervalSeconds", service.spec.interval_seconds},
                     {"startTime", start_time},
                     {"healthAddress", ":" + std::to_string(kHealthPort)},
                     {"bufferSize", 100}};
  json client_config = base;
  client_config["recordFile"] = "/tmp/received.log";
  const json data = {{"service.json", kube::base64Encode(base.dump(2))}, {"client.json", kube::base64Encode(client_config.dump(2))}};
  const std::string checksum = kube::sha256Hex(data.dump());
  const json secret = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"type", "Opaque"},
                       {"metadata", {{"name", service.configSecretName()}, {"namespace", request.ns},
                                     {"labels", {{kCountingLabel, request.name}, {kManagedByLabel, kManagedByWarren}}},
                                     {"ownerReferences", json::array({runtime::controllerReference(*object)})}}},
                       {"data", data}};
  auto notOwned = [&](const Error& error) { return finish({"Ready", "False", "NotOwned", error.message}); };
  if (auto written = runtime::createOrUpdateData(*client_, *client_, kube::resources::secrets(), secret, api::kFieldManager);
      !written) {
    if (written.error().isNotOwned()) return notOwned(written.error());
    return written.error();
  }
  for (const auto& [role, image, program] :
       {std::tuple<std::string, std::string, std::string>{"service", service.spec.service_image, "warren-counting-service"},
        {"client", service.spec.client_image, "warren-counting-client"}}) {
    const json desired = deployment(*object, service, role, image, program, checksum);
    const runtime::ObjectPtr live = deployments_->store().get(runtime::objectKey(request.ns, request.name + "-" + role));
    if (auto applied = runtime::applyOwned(*client_, *client_, kube::resources::deployments(), request.ns, live.get(),
                                           desired, api::kFieldManager);
        !applied) {
      if (applied.error().isNotOwned()) return notOwned(applied.error());
      if (applied.error().isRejectedContent()) {
        // spec.resources (or an image) the API refuses: report, do not retry until the spec changes.
        return finish({"Ready", "False", "ChildRejected", "Deployment " + desired["metadata"]["name"].get<std::string>() +
                                                              " was rejected: " + applied.error().message});
      }
      // Retried with backoff; said in status meanwhile.
      if (auto reported = finish({"Ready", "False", "ApplyFailed", applied.error().describe()}); !reported) {
        return reported.error();
      }
      return applied.error();
    }
  }
  status["currentNode"] = node;
  return finish({"Ready", "True", "Configured", "service and client point at " + node}, recheck);
}

void addCountingServiceController(runtime::Manager& manager, const std::string& ns, int workers,
                                  std::chrono::milliseconds secret_recheck) {
  runtime::InformerOptions service_options{countingServices(), ns, "", ""};
  service_options.watcher.name = "countingservices.warren.dev";
  auto services = manager.addInformer(service_options);
  services->addIndex(runtime::kNamespaceIndex, runtime::namespaceIndex);  // a cluster's or Secret's services
  runtime::InformerOptions cluster_options{api::brokerClusters(), ns, "", ""};
  auto clusters = manager.addInformer(cluster_options);
  runtime::InformerOptions deployment_options{kube::resources::deployments(), ns, kCountingLabel, ""};
  deployment_options.watcher.name = "deployments.apps(counting)";
  auto deployments = manager.addInformer(deployment_options);
  auto secrets = addWarrenSecretsInformer(manager, ns);
  auto reconciler = std::make_shared<CountingServiceReconciler>(manager.client(), services, clusters, deployments,
                                                                secret_recheck);
  runtime::ControllerOptions options;
  options.name = "countingservice";
  options.max_concurrent_reconciles = workers;
  auto controller = std::make_shared<runtime::Controller>(options, reconciler);
  controller->watchPrimary(*services);
  controller->watchOwned(*deployments, api::kGroup, "CountingService");
  controller->watchOwned(*secrets, api::kGroup, "CountingService");  // its rendered config
  // The default-user Secret of a cluster (labelled with it): the services of that cluster.
  controller->watchMapped(*secrets, [services](const json& secret) {
    std::vector<runtime::Request> requests;
    const std::string cluster = clusterLabelOf(secret);
    const std::string ns_of = runtime::stringAt(secret, "/metadata/namespace"_json_pointer);
    if (cluster.empty()) return requests;
    for (const auto& object : services->store().byIndex(runtime::kNamespaceIndex, ns_of)) {
      auto service = api::parseCountingService(*object);
      if (service && service->spec.cluster_name == cluster) requests.push_back({ns_of, service->name});
    }
    return requests;
  });
  controller->watchMapped(*clusters, [services](const json& cluster) {
    std::vector<runtime::Request> requests;
    const std::string ns_of = cluster.value("/metadata/namespace"_json_pointer, std::string());
    const std::string name = cluster.value("/metadata/name"_json_pointer, std::string());
    for (const auto& object : services->store().byIndex(runtime::kNamespaceIndex, ns_of)) {
      auto service = api::parseCountingService(*object);
      if (service && service->spec.cluster_name == name) requests.push_back({ns_of, service->name});
    }
    return requests;
  });
  manager.addController(controller);
}

}  // namespace warren::controllers
