#include "builders/offload_pipeline_children.h"

#include "builders/pod_security.h"
#include "common/text.h"
#include "kube/http.h"
#include "kube/tls_material.h"
#include "runtime/object_helpers.h"

namespace warren::builders {
namespace {

using json = nlohmann::json;

constexpr const char* kCaMountPath = "/etc/warren/s3-ca";

json labels(const api::OffloadPipeline& pipeline, const std::string& component) {
  return {{kOffloadPipelineLabel, pipeline.name},
          {"app.kubernetes.io/component", component},
          {"app.kubernetes.io/managed-by", "warren-operator"}};
}

json secret(const json& owner, const api::OffloadPipeline& pipeline, const std::string& name, const std::string& component,
            const json& string_data) {
  json data = json::object();
  for (const auto& [key, value] : string_data.items()) data[key] = kube::base64Encode(value.get<std::string>());
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"type", "Opaque"},
          {"metadata", {{"name", name}, {"namespace", pipeline.ns}, {"labels", labels(pipeline, component)},
                        {"ownerReferences", json::array({runtime::controllerReference(owner)})}}},
          {"data", data}};
}

}  // namespace

std::string amqpUri(const std::string& host, int port, const std::string& username, const std::string& password) {
  const std::string credentials =
      username.empty() ? "" : kube::percentEncode(username) + ":" + kube::percentEncode(password) + "@";
  return "amqp://" + credentials + host + ":" + std::to_string(port) + "/";
}

json buildCoordinatorConfigSecret(const json& owner, const api::OffloadPipeline& pipeline, const PipelineEndpoints& endpoints) {
  const api::OffloadStorage& storage = pipeline.spec.storage;
  json env = {{"WARREN_OFFLOAD_PIPELINE", pipeline.topologyName()},
              {"WARREN_AMQP_URI", amqpUri(endpoints.amqp_host, endpoints.amqp_port, endpoints.username, endpoints.password)},
              {"WARREN_S3_ENDPOINT", storage.endpoint},
              {"WARREN_S3_BUCKET", storage.bucket},
              {"WARREN_S3_REGION", storage.region},
              {"AWS_ACCESS_KEY_ID", endpoints.s3_access_key},
              {"AWS_SECRET_ACCESS_KEY", endpoints.s3_secret_key},
              {"WARREN_OFFLOAD_DATABASE_URI", endpoints.database_uri}};
  if (!storage.ca.name.empty()) env["WARREN_S3_CA_FILE"] = std::string(kCaMountPath) + "/ca.crt";
  return secret(owner, pipeline, pipeline.coordinatorConfigName(), "offload-coordinator", env);
}

json buildCoordinatorDeployment(const json& owner, const api::OffloadPipeline& pipeline, const std::string& image,
                                const std::string& config_checksum) {
  const api::OffloadPipelineSpec& spec = pipeline.spec;
  json container = {
      {"name", "coordinator"},
      {"image", image},
      {"command", json::array({"warren-offload-coordinator", "--database-schema", pipeline.ledgerSchema(),
                               "--expiry-policy", api::policyName(spec.expiry_policy), "--orphan-policy",
                               api::policyName(spec.orphan_policy), "--metrics-address",
                               ":" + std::to_string(kCoordinatorMetricsPort), "--log-format", "json"})},
      {"envFrom", json::array({{{"secretRef", {{"name", pipeline.coordinatorConfigName()}}}}})},
      {"ports", json::array({{{"name", "metrics"}, {"containerPort", kCoordinatorMetricsPort}}})},
      // Ready when the broker, S3 and the database answer; never restarted for their being down.
      {"readinessProbe", {{"httpGet", {{"path", "/healthz"}, {"port", "metrics"}}}, {"periodSeconds", 5}}},
      {"securityContext", restrictedContainerSecurity()}};
  if (spec.coordinator.resources.is_object()) container["resources"] = spec.coordinator.resources;
  json volumes = json::array();
  if (!spec.storage.ca.name.empty()) {
    container["volumeMounts"] = json::array({{{"name", "s3-ca"}, {"mountPath", kCaMountPath}, {"readOnly", true}}});
    volumes.push_back({{"name", "s3-ca"},
                       {"secret", {{"secretName", spec.storage.ca.name},
                                   {"items", json::array({{{"key", spec.storage.ca.key}, {"path", "ca.crt"}}})}}}});
  }
  const json selector = {{kOffloadPipelineLabel, pipeline.name}, {"app.kubernetes.io/component", "offload-coordinator"}};
  json pod_spec = {{"securityContext", restrictedPodSecurity()}, {"containers", json::array({container})}};
  if (!volumes.empty()) pod_spec["volumes"] = volumes;
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", pipeline.coordinatorName()}, {"namespace", pipeline.ns},
                        {"labels", labels(pipeline, "offload-coordinator")},
                        {"ownerReferences", json::array({runtime::controllerReference(owner)})}}},
          {"spec",
           {{"replicas", spec.coordinator.replicas},
            {"selector", {{"matchLabels", selector}}},
            {"template",
             {{"metadata", {{"labels", labels(pipeline, "offload-coordinator")},
                            {"annotations", {{"warren.dev/config-checksum", config_checksum}}}}},
              {"spec", pod_spec}}}}}};
}

json buildBindingSecret(const json& owner, const api::OffloadPipeline& pipeline, const PipelineEndpoints& endpoints) {
  const api::OffloadPipelineSpec& spec = pipeline.spec;
  const std::string topology = pipeline.topologyName();
  std::vector<std::string> queues;
  for (const auto& recipient : spec.recipients) queues.push_back(recipient + "=" + topology + ".recipient." + recipient);
  json data = {// servicebinding.io's well-known keys and the pipeline's names.
               {"type", "offload-pipeline"},
               {"provider", "warren"},
               {"host", endpoints.amqp_host},
               {"port", std::to_string(endpoints.amqp_port)},
               {"vhost", "/"},
               {"pipeline", topology},
               {"exchange", topology + ".pointers"},
               {"ackQueue", topology + ".acks"},
               {"recipients", joined(spec.recipients, ",")},
               {"recipientQueues", joined(queues, ",")},
               {"endpoint", spec.storage.endpoint},
               {"bucket", spec.storage.bucket},
               {"region", spec.storage.region},
               {"inlineThresholdBytes", std::to_string(spec.inline_threshold_bytes)},
               {"compression", spec.compression},
               {"objectTTL", spec.object_ttl},
               // What warren-offload-producer and -consumer read (envFrom this Secret).
               {"WARREN_OFFLOAD_PIPELINE", topology},
               {"WARREN_OFFLOAD_RECIPIENTS", joined(spec.recipients, ",")},
               {"WARREN_OFFLOAD_INLINE_THRESHOLD", std::to_string(spec.inline_threshold_bytes)},
               {"WARREN_OFFLOAD_TTL", std::to_string(spec.object_ttl_seconds.count()) + "s"},
               {"WARREN_OFFLOAD_COMPRESSION", spec.compression},
               {"WARREN_S3_ENDPOINT", spec.storage.endpoint},
               {"WARREN_S3_BUCKET", spec.storage.bucket},
               {"WARREN_S3_REGION", spec.storage.region}};
  if (spec.binding_includes_credentials) {
    data["username"] = endpoints.username;
    data["password"] = endpoints.password;
    data["uri"] = amqpUri(endpoints.amqp_host, endpoints.amqp_port, endpoints.username, endpoints.password);
    data["WARREN_AMQP_URI"] = data["uri"];
    data["AWS_ACCESS_KEY_ID"] = endpoints.s3_access_key;
    data["AWS_SECRET_ACCESS_KEY"] = endpoints.s3_secret_key;
  } else {
    data["uri"] = amqpUri(endpoints.amqp_host, endpoints.amqp_port, "", "");
  }
  return secret(owner, pipeline, pipeline.bindingSecretName(), "offload-binding", data);
}

}  // namespace warren::builders
