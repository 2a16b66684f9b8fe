#include "malformed_objects.h"

namespace warren::fuzz {

using json = nlohmann::json;

namespace {

// Every leaf and inner path of `value` below `prefix`, as JSON pointers.
void collectPaths(const json& value, const json::json_pointer& at, std::vector<json::json_pointer>& out) {
  out.push_back(at);
  if (value.is_object()) {
    for (const auto& [key, child] : value.items()) collectPaths(child, at / key, out);
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) collectPaths(value[i], at / i, out);
  }
}

// "/spec/targets/0/name" -> "spec.targets[0].name"
std::string dotted(const json::json_pointer& pointer) {
  std::string out;
  const std::string text = pointer.to_string();
  size_t start = 1;
  while (start <= text.size()) {
    const size_t slash = std::min(text.find('/', start), text.size());
    const std::string part = text.substr(start, slash - start);
    if (!part.empty() && part.find_first_not_of("0123456789") == std::string::npos) {
      out += "[" + part + "]";
    } else {
      out += (out.empty() ? "" : ".") + part;
    }
    start = slash + 1;
  }
  return out;
}

json deeplyNested(int depth) {
  json value = "bottom";
  for (int i = 0; i < depth; ++i) value = json{{"n" + std::to_string(i % 3), value}};
  return value;
}

}  // namespace

json MalformedObjects::base(const std::string& kind, const std::string& name) {
  json object = {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", kind}, {"metadata", {{"name", name}}}};
  if (kind == "BrokerCluster") {
    object["spec"] = json::parse(R"({
        "replicas": 1, "image": "rabbitmq:4.1-management",
        "persistence": {"ephemeral": true},
        "rabbitmq": {"additionalPlugins": ["rabbitmq_shovel"], "additionalConfig": "heartbeat = 30\n"},
        "mqtt": {"enabled": true, "port": 1883},
        "service": {"type": "ClusterIP", "annotations": {"a": "b"}},
        "failover": {"policy": "Automatic", "unhealthyAfterSeconds": 5, "allowedBindingNamespaces": ["x"]},
        "resources": {"limits": {"memory": "512Mi"}},
        "nodeSelector": {"disk": "ssd"},
        "tolerations": [{"key": "k", "operator": "Exists"}]})");
  } else if (kind == "BrokerBinding") {
    object["spec"] = json::parse(R"({
        "brokerClusterRef": {"name": "bus"},
        "targets": [{"kind": "ConfigMap", "name": "cfg", "key": "c.json", "format": "json",
                     "fields": {"host": "broker.host", "port": "broker.port"}},
                    {"kind": "Secret", "name": "env", "key": ".env", "format": "template", "template": "H={{host}}"}],
        "credentialsSecretName": "creds",
        "workloads": [{"kind": "Deployment", "name": "app"}]})");
  } else if (kind == "OffloadPipeline") {
    // Its S3 endpoint does not resolve: the checks fail at once and are reported.
    object["spec"] = json::parse(R"({
        "brokerClusterRef": {"name": "bus"},
        "storage": {"endpoint": "http://s3.invalid:7070", "bucket": "payloads", "region": "eu-west-1",
                    "credentialsSecretRef": {"name": "s3-keys", "accessKeyIdKey": "id"}, "createBucket": true,
                    "caSecretRef": {"name": "ca", "key": "ca.crt"}},
        "database": {"uriSecretRef": {"name": "db", "key": "uri"}, "schema": "ledger"},
        "recipients": ["billing", "archive"], "inlineThresholdBytes": 1024, "compression": "gzip",
        "objectTTL": "2h", "expiryPolicy": "Delete", "orphanPolicy": "Report",
        "coordinator": {"replicas": 2, "image": "warren-operator:0.1.0", "resources": {"limits": {"memory": "64Mi"}}},
        "binding": {"includeCredentials": true}, "deletionPolicy": "Delete"})");
  } else {
    object["spec"] = json::parse(R"({
        "brokerClusterRef": {"name": "bus"}, "protocol": "amqp", "intervalSeconds": 2,
        "serviceImage": "warren-counting:0.1.0", "clientImage": "warren-counting:0.1.0",
        "resources": {"limits": {"memory": "64Mi"}}})");
  }
  return object;
}

json MalformedObjects::wildValue(int depth) {
  switch (pick(depth > 3 ? 7 : 10)) {
    case 0: return nullptr;
    case 1: return pick(2) == 0;
    case 2: return std::vector<int>{-1, 0, 1, 9, 10, 65535, 65536, 2147483647, -2147483647}[pick(9)];
    case 3: return 9223372036854775807LL;
    case 4: return 1.5;
    case 5: return std::string(200000, 'x');  // huge
    case 6: return "Ünïcødé ☃ \u2028 \xF0\x9F\x90\x87 \\\"\n";
    case 7: return json::array({wildValue(depth + 1), wildValue(depth + 1)});
    case 8: return json{{"k", wildValue(depth + 1)}};
    default: return deeplyNested(50 + pick(150));
  }
}

std::vector<Malformed> MalformedObjects::generate(const std::string& kind, int count, const std::string& prefix) {
  std::vector<Malformed> out;
  for (int n = 0; n < count; ++n) {
    json object = base(kind, prefix + "-" + std::to_string(n));
    std::vector<json::json_pointer> paths;
    collectPaths(object["spec"], json::json_pointer("/spec"), paths);
    const json::json_pointer at = paths[static_cast<size_t>(pick(static_cast<int>(paths.size())))];
    Malformed m;
    m.kind = kind;
    m.path = dotted(at);
    switch (pick(6)) {
      case 0:
        if (at == json::json_pointer("/spec")) {
          object.erase("spec");
        } else {
          object[at.parent_pointer()].is_array() ? object[at.parent_pointer()].erase(std::stoul(at.back()))
                                                 : static_cast<void>(object[at.parent_pointer()].erase(at.back()));
        }
        m.mutation = "removed";
        break;
      case 1:
        object[at] = nullptr;
        m.mutation = "null";
        break;
      case 2: {
        // The wrong type: a string where there was something else, else a number.
        object[at] = object[at].is_string() ? json(42) : json("a string");
        m.mutation = "wrong type";
        break;
      }
      case 3:
        object[at] = wildValue(0);
        m.mutation = "wild value";
        break;
      case 4:
        object[at] = json::array({object[at]});
        m.mutation = "wrapped in an array";
        break;
      default:
        object[at] = json{{"unexpected", object[at]}};
        m.mutation = "wrapped in an object";
        break;
    }
    m.object = std::move(object);
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace warren::fuzz
