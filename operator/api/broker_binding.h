// BrokerBinding (warren.dev/v1alpha1): the typed view of a binding, parsed
// once from the stored object. parseBrokerBinding() never throws; any field
// that is missing where required or of the wrong type is an InvalidSpec
// error naming it, which the controller reports in the Bound condition.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/field_reader.h"
#include "common/result.h"
#include "kube/resource.h"

namespace warren::api {

const kube::ResourceType& brokerBindings();

// The endpoint values a target can ask for (spec.targets[].fields keys and
// {{...}} in templates).
inline constexpr const char* kEndpointFields[] = {"host", "port", "mqttPort", "uri", "node"};

struct BindingTarget {
  enum class Kind { kConfigMap, kSecret };
  enum class Format { kJson, kYaml, kEnv, kTemplate };
  Kind kind = Kind::kConfigMap;
  std::string name;
  std::string key;
  Format format = Format::kJson;
  // Endpoint field ("host") -> where it goes (a dotted path or an env key).
  std::map<std::string, std::string> fields;
  std::string template_text;  // format template

  bool isSecret() const { return kind == Kind::kSecret; }
  std::string kindName() const { return isSecret() ? "Secret" : "ConfigMap"; }
};

struct WorkloadRef {
  std::string kind = "Deployment";  // Deployment, StatefulSet or DaemonSet
  std::string name;
};

struct BrokerBindingSpec {
  std::string cluster_name;
  std::string cluster_namespace;  // defaults to the binding's
  std::vector<BindingTarget> targets;
  std::string credentials_secret_name;
  std::vector<WorkloadRef> workloads;
};

struct BrokerBinding : ObjectIdentity {
  BrokerBindingSpec spec;

  // Some target is a Secret (which warren does not watch: it is the app's).
  bool hasSecretTargets() const;
};

Result<BrokerBinding> parseBrokerBinding(const nlohmann::json& object);

}  // namespace warren::api
