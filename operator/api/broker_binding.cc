#include "api/broker_binding.h"

#include <algorithm>

#include "api/broker_cluster.h"
#include "api/field_reader.h"

namespace warren::api {

const kube::ResourceType& brokerBindings() {
  static const kube::ResourceType type{kGroup, kVersion, "BrokerBinding", "brokerbindings", true};
  return type;
}

bool BrokerBinding::hasSecretTargets() const {
  return std::any_of(spec.targets.begin(), spec.targets.end(), [](const BindingTarget& t) { return t.isSecret(); });
}

namespace {

BindingTarget readTarget(FieldReader& reader) {
  BindingTarget target;
  std::string kind = "ConfigMap";
  reader.read("kind", kind);
  if (kind == "Secret") {
    target.kind = BindingTarget::Kind::kSecret;
  } else if (kind != "ConfigMap") {
    reader.fail("kind", "must be ConfigMap or Secret, not \"" + kind + "\"");
  }
  reader.require("name", target.name);
  reader.require("key", target.key);
  std::string format;
  reader.require("format", format);
  if (format == "json") {
    target.format = BindingTarget::Format::kJson;
  } else if (format == "yaml") {
    target.format = BindingTarget::Format::kYaml;
  } else if (format == "env") {
    target.format = BindingTarget::Format::kEnv;
  } else if (format == "template") {
    target.format = BindingTarget::Format::kTemplate;
  } else if (reader.has("format")) {
    reader.fail("format", "must be json, yaml, env or template, not \"" + format + "\"");
  }
  if (target.format == BindingTarget::Format::kTemplate) {
    reader.require("template", target.template_text);
  } else {
    reader.read("fields", target.fields);
    if (reader.ok() && target.fields.empty()) reader.fail("fields", "is required and must name at least one field");
    for (const auto& [field, path] : target.fields) {
      const bool known = std::any_of(std::begin(kEndpointFields), std::end(kEndpointFields),
                                     [&](const char* f) { return field == f; });
      if (!known) reader.fail("fields." + field, "is not an endpoint field (host, port, mqttPort, uri, node)");
      if (path.empty()) reader.fail("fields." + field, "must not be empty");
    }
  }
  return target;
}

}  // namespace

Result<BrokerBinding> parseBrokerBinding(const nlohmann::json& object) {
  BrokerBinding binding;
  FieldReader root(&object, "");
  static_cast<ObjectIdentity&>(binding) = readIdentity(root);
  FieldReader spec = root.object("spec");
  BrokerBindingSpec& s = binding.spec;
  readClusterRef(spec, s.cluster_name, &s.cluster_namespace);
  if (s.cluster_namespace.empty()) s.cluster_namespace = binding.ns;
  for (auto& target : spec.items("targets")) {
    if (target.node() != nullptr && !target.node()->is_object()) {
      target.failHere("must be an object");
      continue;
    }
    s.targets.push_back(readTarget(target));
  }
  spec.read("credentialsSecretName", s.credentials_secret_name);
  for (auto& item : spec.items("workloads")) {
    if (item.node() != nullptr && !item.node()->is_object()) {
      item.failHere("must be an object");
      continue;
    }
    WorkloadRef workload;
    item.read("kind", workload.kind);
    if (workload.kind != "Deployment" && workload.kind != "StatefulSet" && workload.kind != "DaemonSet") {
      item.fail("kind", "must be Deployment, StatefulSet or DaemonSet, not \"" + workload.kind + "\"");
    }
    item.require("name", workload.name);
    s.workloads.push_back(std::move(workload));
  }
  if (!root.ok()) return root.status().error();
  return binding;
}

}  // namespace warren::api
