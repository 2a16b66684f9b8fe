// The typed API of every kind: what parses, and every bad value reported
// with the field's path, never a crash.
#include <gtest/gtest.h>

#include "api/broker_binding.h"
#include "api/broker_cluster.h"
#include "api/counting_service.h"

namespace warren::api {
namespace {

using json = nlohmann::json;

json object(const std::string& kind, json spec) {
  json o = {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", kind},
            {"metadata", {{"name", "x"}, {"namespace", "ns"}, {"uid", "u"}, {"generation", 2}}}};
  if (!spec.is_discarded()) o["spec"] = std::move(spec);
  return o;
}

// The message of the parse error, or "" when it parsed.
template <typename Parse>
std::string errorOf(Parse parse, const json& o) {
  auto parsed = parse(o);
  if (parsed) return "";
  EXPECT_EQ(parsed.error().reason, "InvalidSpec");
  EXPECT_TRUE(parsed.error().terminal);
  return parsed.error().message;
}

TEST(BrokerBindingApiTest, ParsesAFullSpec) {
  auto parsed = parseBrokerBinding(object("BrokerBinding", json::parse(R"({
      "brokerClusterRef": {"name": "bus", "namespace": "infra"},
      "targets": [{"kind": "Secret", "name": "env", "key": ".env", "format": "env", "fields": {"host": "HOST"}},
                  {"name": "cm", "key": "t", "format": "template", "template": "{{host}}"}],
      "credentialsSecretName": "creds",
      "workloads": [{"kind": "StatefulSet", "name": "app"}, {"name": "web"}]})")));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->spec.cluster_namespace, "infra");
  ASSERT_EQ(parsed->spec.targets.size(), 2u);
  EXPECT_TRUE(parsed->spec.targets[0].isSecret());
  EXPECT_EQ(parsed->spec.targets[0].fields.at("host"), "HOST");
  EXPECT_EQ(parsed->spec.targets[1].format, BindingTarget::Format::kTemplate);
  EXPECT_EQ(parsed->spec.workloads[1].kind, "Deployment");
  EXPECT_TRUE(parsed->hasSecretTargets());
  // The cluster's namespace defaults to the binding's.
  auto local = parseBrokerBinding(object("BrokerBinding", {{"brokerClusterRef", {{"name", "bus"}}}}));
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->spec.cluster_namespace, "ns");
  EXPECT_FALSE(local->hasSecretTargets());
}

TEST(BrokerBindingApiTest, EveryBadValueNamesItsField) {
  const auto parse = [](const json& o) { return parseBrokerBinding(o); };
  const std::vector<std::pair<json, std::string>> cases = {
      {json::value_t::discarded, "spec: is required"},
      {nullptr, "spec: is required"},
      {"a string", "spec: must be an object"},
      {json::object(), "spec.brokerClusterRef: is required"},
      {{{"brokerClusterRef", nullptr}}, "spec.brokerClusterRef: is required"},
      {{{"brokerClusterRef", 7}}, "spec.brokerClusterRef: must be an object"},
      {{{"brokerClusterRef", json::object()}}, "spec.brokerClusterRef.name: is required"},
      {{{"brokerClusterRef", {{"name", 5}}}}, "spec.brokerClusterRef.name: must be a string"},
      {{{"brokerClusterRef", {{"name", ""}}}}, "spec.brokerClusterRef.name: must not be empty"},
      {{{"brokerClusterRef", {{"name", "b"}, {"namespace", true}}}}, "spec.brokerClusterRef.namespace: must be a string"},
      {{{"brokerClusterRef", {{"name", "b"}}}, {"targets", {{"k", 1}}}}, "spec.targets: must be an array"},
      {{{"brokerClusterRef", {{"name", "b"}}}, {"targets", {1}}}, "spec.targets[0]: must be an object"},
      {{{"brokerClusterRef", {{"name", "b"}}}, {"targets", {json::object()}}}, "spec.targets[0].name: is required"},
      {{{"brokerClusterRef", {{"name", "b"}}},
        {"targets", {{{"name", "c"}, {"key", "k"}, {"format", "xml"}, {"fields", {{"host", "h"}}}}}}},
       "spec.targets[0].format: must be json, yaml, env or template"},
      {{{"brokerClusterRef", {{"name", "b"}}}, {"targets", {{{"name", "c"}, {"key", "k"}, {"format", "json"}}}}},
       "spec.targets[0].fields: is required"},
      {{{"brokerClusterRef", {{"name", "b"}}},
        {"targets", {{{"name", "c"}, {"key", "k"}, {"format", "json"}, {"fields", {{"host", 1}}}}}}},
       "spec.targets[0].fields.host: must be a string"},
      {{{"brokerClusterRef", {{"name", "b"}}},
        {"targets", {{{"name", "c"}, {"key", "k"}, {"format", "json"}, {"fields", {{"password", "p"}}}}}}},
       "spec.targets[0].fields.password: is not an endpoint field"},
      {{{"brokerClusterRef", {{"name", "b"}}}, {"targets", {{{"name", "c"}, {"key", "k"}, {"format", "template"}}}}},
       "spec.targets[0].template: is required"},
      {{{"brokerClusterRef", {{"name", "b"}}},
        {"targets", {{{"kind", "Pod"}, {"name", "c"}, {"key", "k"}, {"format", "env"}, {"fields", {{"host", "H"}}}}}}},
       "spec.targets[0].kind: must be ConfigMap or Secret"},
      {{{"brokerClusterRef", {{"name", "b"}}}, {"credentialsSecretName", json::array()}}, "spec.credentialsSecretName: must be a string"},
      {{{"brokerClusterRef", {{"name", "b"}}}, {"workloads", {{{"kind", "Job"}, {"name", "j"}}}}},
       "spec.workloads[0].kind: must be Deployment, StatefulSet or DaemonSet"},
      {{{"brokerClusterRef", {{"name", "b"}}}, {"workloads", {{{"name", nullptr}}}}}, "spec.workloads[0].name: is required"},
  };
  for (const auto& [spec, expected] : cases) {
    const std::string message = errorOf(parse, object("BrokerBinding", spec));
    EXPECT_EQ(message.rfind(expected, 0), 0u) << "spec " << spec.dump() << " gave \"" << message << "\"";
  }
}

TEST(BrokerBindingApiTest, MetadataAndWholeObjectsOfTheWrongShapeAreErrors) {
  EXPECT_EQ(errorOf([](const json& o) { return parseBrokerBinding(o); }, json::array()), "metadata.name: is required");
  EXPECT_EQ(errorOf([](const json& o) { return parseBrokerBinding(o); }, json(nullptr)), "metadata.name: is required");
  json o = object("BrokerBinding", {{"brokerClusterRef", {{"name", "b"}}}});
  o["metadata"]["annotations"] = {{"a", 1}};
  EXPECT_EQ(errorOf([](const json& x) { return parseBrokerBinding(x); }, o), "metadata.annotations.a: must be a string");
}

TEST(CountingServiceApiTest, ParsesDefaultsAndReportsBadValues) {
  auto parsed = parseCountingService(object("CountingService", {{"brokerClusterRef", {{"name", "bus"}}}}));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->spec.protocol, "mqtt");
  EXPECT_EQ(parsed->spec.interval_seconds, 1);
  EXPECT_EQ(parsed->spec.service_image, kDefaultCountingImage);
  EXPECT_EQ(parsed->configSecretName(), "x-config");
  const auto parse = [](const json& o) { return parseCountingService(o); };
  const std::vector<std::pair<json, std::string>> cases = {
      {json::value_t::discarded, "spec: is required"},
      {nullptr, "spec: is required"},
      {json::array(), "spec: must be an object"},
      {json::object(), "spec.brokerClusterRef: is required"},
      {{{"brokerClusterRef", {{"name", "b"}}}, {"protocol", "stomp"}}, "spec.protocol: must be mqtt or amqp"},
      {{{"brokerClusterRef", {{"name", "b"}}}, {"protocol", 1}}, "spec.protocol: must be a string"},
      {{{"brokerClusterRef", {{"name", "b"}}}, {"intervalSeconds", "1"}}, "spec.intervalSeconds: must be an integer"},
      {{{"brokerClusterRef", {{"name", "b"}}}, {"intervalSeconds", 1.5}}, "spec.intervalSeconds: must be an integer"},
      {{{"brokerClusterRef", {{"name", "b"}}}, {"intervalSeconds", 0}}, "spec.intervalSeconds: must be between 1 and 3600"},
      {{{"brokerClusterRef", {{"name", "b"}}}, {"intervalSeconds", 1e300}}, "spec.intervalSeconds: must be an integer"},
      {{{"brokerClusterRef", {{"name", "b"}}}, {"intervalSeconds", 9223372036854775807LL}}, "spec.intervalSeconds: is out of range"},
      {{{"brokerClusterRef", {{"name", "b"}}}, {"serviceImage", ""}}, "spec.serviceImage: must not be empty"},
      {{{"brokerClusterRef", {{"name", "b"}}}, {"resources", "1Gi"}}, "spec.resources: must be an object"},
  };
  for (const auto& [spec, expected] : cases) {
    const std::string message = errorOf(parse, object("CountingService", spec));
    EXPECT_EQ(message.rfind(expected, 0), 0u) << "spec " << spec.dump() << " gave \"" << message << "\"";
  }
}

TEST(BrokerClusterApiTest, OtherNamespacesNeedToBeListed) {
  auto only_own = parseBrokerCluster(object("BrokerCluster", json::object()));
  ASSERT_TRUE(only_own.ok());
  EXPECT_TRUE(only_own->allowsReferencesFrom("ns"));
  EXPECT_FALSE(only_own->allowsReferencesFrom("apps"));
  auto listed = parseBrokerCluster(object("BrokerCluster", {{"failover", {{"allowedBindingNamespaces", {"apps"}}}}}));
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->allowsReferencesFrom("apps"));
  EXPECT_FALSE(listed->allowsReferencesFrom("other"));
  auto all = parseBrokerCluster(object("BrokerCluster", {{"failover", {{"allowedBindingNamespaces", {"*"}}}}}));
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->allowsReferencesFrom("other"));
}

TEST(BrokerClusterApiTest, NullAndWrongTypedFieldsAreReportedNotCrashedOn) {
  const auto parse = [](const json& o) { return parseBrokerCluster(o); };
  EXPECT_TRUE(parseBrokerCluster(object("BrokerCluster", json::object())).ok());
  const std::vector<std::pair<json, std::string>> cases = {
      {json::value_t::discarded, "spec: is required"},
      {nullptr, "spec: is required"},
      {{{"replicas", "3"}}, "spec.replicas: must be an integer"},
      {{{"persistence", 1}}, "spec.persistence: must be an object"},
      {{{"persistence", {{"storage", 10}}}}, "spec.persistence.storage: must be a string"},
      {{{"mqtt", {{"enabled", "yes"}}}}, "spec.mqtt.enabled: must be a boolean"},
      {{{"tls", "x"}}, "spec.tls: must be an object"},
      {{{"tolerations", {1}}}, "spec.tolerations[0]: must be an object"},
      {{{"imagePullSecrets", {json::object()}}}, "spec.imagePullSecrets[0].name: is required"},
      {{{"rabbitmq", {{"additionalPlugins", {"ok", 2}}}}}, "spec.rabbitmq.additionalPlugins[1]: must be a string"},
      {{{"service", {{"annotations", {{"a", false}}}}}}, "spec.service.annotations.a: must be a string"},
      {{{"replicas", 0}}, "spec.replicas: must be between 1 and 9"},
  };
  for (const auto& [spec, expected] : cases) {
    const std::string message = errorOf(parse, object("BrokerCluster", spec));
    EXPECT_EQ(message.rfind(expected, 0), 0u) << "spec " << spec.dump() << " gave \"" << message << "\"";
  }
}

}  // namespace
}  // namespace warren::api
