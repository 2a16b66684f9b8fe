// BrokerBinding on the real local control plane: a BrokerCluster with three
// kwok pods, a binding with JSON, YAML and env targets and a Deployment to
// restart. The active pod goes NotReady (as the kubelet would report) and
// every target follows, keeping the rest of its content.
#include <iostream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/broker_cluster.h"
#include "kube/tls_material.h"
#include "live_cluster.h"
#include "controllers/counting_service_controller.h"
#include "running_operator.h"
#include "runtime/object_helpers.h"

namespace warren::controllers {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::LiveClusterTest;

class BrokerBindingIntegrationTest : public LiveClusterTest {
 protected:
  static void SetUpTestSuite() { testing::installCrds(); }

  std::string bindingCondition(const std::string& type, const char* field = "status") {
    const json conditions = get(brokerBindings(), "app").value("/status/conditions"_json_pointer, json::array());
    const json* c = runtime::findCondition(conditions, type);
    return c ? c->value(field, "") : "";
  }
};

const std::string kJsonConfig = "{\n  \"service\": \"counting\",\n  \"rabbitmq\": {\"host\": \"unset\", \"port\": 0, \"vhost\": \"/\"}\n}\n";
const std::string kYamlConfig = "# client\ninterval: 1\nbroker:\n  host: unset   # rewritten by warren\n  port: 0\n";
const std::string kEnvConfig = "APP_MODE=prod\nRABBITMQ_HOST=unset\n";

TEST_F(BrokerBindingIntegrationTest, TargetsFollowTheActiveNodeAndTheWorkloadRestartsOnce) {
  // A 1 s Secret recheck keeps the binding reconciling, so "two more reconciles finished" is a positive
  // signal that one started after the state being checked was visible.
  testing::RunningOperator operator_process(ns(), 1s);
  ASSERT_TRUE(client().create(api::brokerClusters(), ns(),
                              {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerCluster"},
                               {"metadata", {{"name", "bus"}}},
                               {"spec", {{"replicas", 3}, {"failover", {{"unhealthyAfterSeconds", 2}}}}}}, {}).ok());
  ASSERT_TRUE(client().create(kube::resources::configMaps(), ns(),
                              {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "app-config"}}},
                               {"data", {{"config.json", kJsonConfig}, {"client.yaml", kYamlConfig}, {"untouched", "x"}}}}, {}).ok());
  ASSERT_TRUE(client().create(kube::resources::secrets(), ns(),
                              {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "app-env"}}},
                               {"data", {{".env", kube::base64Encode(kEnvConfig)}}}}, {}).ok());
  ASSERT_TRUE(client().create(kube::resources::deployments(), ns(), json::parse(R"({
      "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"},
      "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "app"}},
               "template": {"metadata": {"labels": {"app": "app"}},
                            "spec": {"containers": [{"name": "app", "image": "counting-client:dev"}]}}}})"), {}).ok());
  ASSERT_TRUE(client().create(brokerBindings(), ns(), json::parse(R"({
      "apiVersion": "warren.dev/v1alpha1", "kind": "BrokerBinding", "metadata": {"name": "app"},
      "spec": {"brokerClusterRef": {"name": "bus"},
               "targets": [
                 {"kind": "ConfigMap", "name": "app-config", "key": "config.json", "format": "json",
                  "fields": {"host": "rabbitmq.host", "port": "rabbitmq.port", "node": "rabbitmq.node"}},
                 {"kind": "ConfigMap", "name": "app-config", "key": "client.yaml", "format": "yaml",
                  "fields": {"host": "broker.host", "port": "broker.port"}},
                 {"kind": "Secret", "name": "app-env", "key": ".env", "format": "env",
                  "fields": {"host": "RABBITMQ_HOST", "uri": "RABBITMQ_URI"}}],
               "credentialsSecretName": "app-rabbitmq",
               "workloads": [{"kind": "Deployment", "name": "app"}]}})"), {}).ok());

  ASSERT_TRUE(eventually([&] { return bindingCondition("Bound") == "True"; }, 90s)) << bindingCondition("Bound", "message");
  // The first node to become Ready is active; the failover goes to the lowest other one.
  ASSERT_TRUE(eventually([&] {
    const json c = get(api::brokerClusters(), "bus");
    return c.value("/status/readyReplicas"_json_pointer, 0) == 3 && get(brokerBindings(), "app")["status"]["currentNode"] == c["status"]["activeNode"];
  }, 90s));
  const int first = testing::ordinalOfNode(get(api::brokerClusters(), "bus")["status"]["activeNode"]);
  const int second = testing::failoverTarget(first);
  auto nodeName = [&](int i) { return "rabbit@bus-server-" + std::to_string(i) + ".bus-nodes." + ns(); };
  auto hostName = [&](int i) { return "bus-server-" + std::to_string(i) + ".bus-nodes." + ns() + ".svc"; };
  const std::string node0 = nodeName(first), node1 = nodeName(second);
  const std::string host0 = hostName(first), host1 = hostName(second);
  EXPECT_EQ(get(brokerBindings(), "app")["status"]["currentNode"], node0);
  json config = get(kube::resources::configMaps(), "app-config");
  EXPECT_EQ(json::parse(config["data"]["config.json"].get<std::string>())["rabbitmq"],
            (json{{"host", host0}, {"port", 5672}, {"vhost", "/"}, {"node", node0}}));
  EXPECT_EQ(config["data"]["client.yaml"], "# client\ninterval: 1\nbroker:\n  host: \"" + host0 +
                                               "\"   # rewritten by warren\n  port: 5672\n");
  EXPECT_EQ(config["data"]["untouched"], "x");
  // The credentials were copied next to the app.
  EXPECT_TRUE(eventually([&] {
    return get(kube::resources::secrets(), "app-rabbitmq")["data"] == get(kube::resources::secrets(), "bus-default-user")["data"];
  }, 10s));
  EXPECT_EQ(get(kube::resources::secrets(), "app-rabbitmq")["metadata"]["ownerReferences"][0]["kind"], "BrokerBinding");
  const long long generation = get(kube::resources::deployments(), "app")["metadata"]["generation"];

  // Failover: the active pod goes NotReady.
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(testing::setPodReady(client(), ns(), "bus-server-" + std::to_string(first), false).ok());
  ASSERT_TRUE(eventually([&] {
    const json c = get(kube::resources::configMaps(), "app-config");
    const json s = get(kube::resources::secrets(), "app-env");
    const std::string env = *kube::base64Decode(s["data"][".env"].get<std::string>());
    return c["data"]["config.json"].get<std::string>().find(host1) != std::string::npos &&
           c["data"]["client.yaml"].get<std::string>().find(host1) != std::string::npos &&
           env.find("RABBITMQ_HOST=" + host1) != std::string::npos;
  }, 30s)) << "targets did not follow the active node";
  std::cout << "every target names the new node " << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
            << " s after the pod went NotReady (debounce 2 s)" << std::endl;
  config = get(kube::resources::configMaps(), "app-config");
  EXPECT_EQ(config["data"]["config.json"], "{\n  \"service\": \"counting\",\n  \"rabbitmq\": {\"host\": \"" + host1 +
                                               "\", \"port\": 5672, \"vhost\": \"/\", \"node\": \"" + node1 + "\"}\n}\n");
  EXPECT_EQ(*kube::base64Decode(get(kube::resources::secrets(), "app-env")["data"][".env"].get<std::string>()),
            "APP_MODE=prod\nRABBITMQ_HOST=" + host1 + "\nRABBITMQ_URI=amqp://" + host1 + ":5672/\n");
  ASSERT_TRUE(eventually([&] { return get(brokerBindings(), "app")["status"]["currentNode"] == node1; }, 10s));

  // The workload was restarted exactly once, for node 1.
  ASSERT_TRUE(eventually([&] {
    return get(kube::resources::deployments(), "app")["spec"]["template"]["metadata"]["annotations"][kReroutedToAnnotation] == node1;
  }, 10s));
  // Positive signal: the binding is reconciled again after the move was recorded (its own status write
  // wakes it); a second restart would have happened by then.
  ASSERT_TRUE(testing::RunningOperator::reconcilesFinish("brokerbinding", 2, 30s));
  EXPECT_EQ(get(kube::resources::deployments(), "app")["metadata"]["generation"], generation + 1);

  // The first node recovers: nothing moves back, nothing restarts again. Positive signal: the cluster's
  // status shows the node Ready again, and the binding has been reconciled since.
  ASSERT_TRUE(testing::setPodReady(client(), ns(), "bus-server-" + std::to_string(first), true).ok());
  ASSERT_TRUE(eventually([&] {
    return get(api::brokerClusters(), "bus")["status"]["nodes"][first].value("ready", false);
  }, 30s));
  ASSERT_TRUE(testing::RunningOperator::reconcilesFinish("brokerbinding", 2, 30s));
  EXPECT_EQ(get(brokerBindings(), "app")["status"]["currentNode"], node1);
  EXPECT_EQ(get(kube::resources::deployments(), "app")["metadata"]["generation"], generation + 1);

  // All down: the targets stay as they are. Positive signal: the cluster says NoHealthyNode, and the
  // binding has been reconciled since.
  const json before = get(kube::resources::configMaps(), "app-config")["data"];
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(testing::setPodReady(client(), ns(), "bus-server-" + std::to_string(i), false).ok());
  ASSERT_TRUE(eventually([&] {
    const json conditions = get(api::brokerClusters(), "bus").value("/status/conditions"_json_pointer, json::array());
    const json* c = runtime::findCondition(conditions, "NoHealthyNode");
    return c != nullptr && c->value("status", "") == "True";
  }, 30s));
  ASSERT_TRUE(testing::RunningOperator::reconcilesFinish("brokerbinding", 2, 30s));
  EXPECT_EQ(get(kube::resources::configMaps(), "app-config")["data"], before);
}

TEST_F(BrokerBindingIntegrationTest, MissingTargetsAndBadPathsAreReportedNotOverwritten) {
  testing::RunningOperator operator_process(ns());
  ASSERT_TRUE(client().create(api::brokerClusters(), ns(),
                              {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerCluster"},
                               {"metadata", {{"name", "bus"}}}, {"spec", {{"replicas", 1}}}}, {}).ok());
  ASSERT_TRUE(client().create(kube::resources::configMaps(), ns(),
                              {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "scalar"}}},
                               {"data", {{"config.json", "{\"rabbitmq\": \"not-an-object\"}"}}}}, {}).ok());
  ASSERT_TRUE(client().create(brokerBindings(), ns(), json::parse(R"({
      "apiVersion": "warren.dev/v1alpha1", "kind": "BrokerBinding", "metadata": {"name": "app"},
      "spec": {"brokerClusterRef": {"name": "bus"},
               "targets": [
                 {"kind": "ConfigMap", "name": "scalar", "key": "config.json", "format": "json", "fields": {"host": "rabbitmq.host"}},
                 {"kind": "ConfigMap", "name": "nowhere", "key": "a", "format": "env", "fields": {"host": "HOST"}}]}})"), {}).ok());
  ASSERT_TRUE(eventually([&] { return bindingCondition("TargetMissing") == "True"; }, 90s));
  EXPECT_THAT(bindingCondition("TargetMissing", "message"), HasSubstr("ConfigMap nowhere"));
  EXPECT_EQ(bindingCondition("InvalidPath"), "True");
  EXPECT_THAT(bindingCondition("InvalidPath", "message"), HasSubstr("rabbitmq.host"));
  EXPECT_EQ(bindingCondition("Bound"), "False");
  EXPECT_EQ(get(kube::resources::configMaps(), "scalar")["data"]["config.json"], "{\"rabbitmq\": \"not-an-object\"}");

  // Once the cluster has settled nothing else wakes the binding: creating the
  // missing target, mending the bad one and re-applying an old address must.
  ASSERT_TRUE(eventually([&] { return get(api::brokerClusters(), "bus").value("/status/readyReplicas"_json_pointer, 0) == 1; }, 60s));
  std::this_thread::sleep_for(3s);
  const std::string host = api::nodeHost(get(api::brokerClusters(), "bus")["status"]["activeNode"]);
  ASSERT_TRUE(client().create(kube::resources::configMaps(), ns(),
                              {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "nowhere"}}},
                               {"data", {{"a", "MODE=x\nHOST=old\n"}}}}, {}).ok());
  EXPECT_TRUE(eventually([&] { return get(kube::resources::configMaps(), "nowhere")["data"]["a"] == "MODE=x\nHOST=" + host + "\n"; }, 20s))
      << "a target created after its binding was not patched";
  EXPECT_TRUE(eventually([&] { return bindingCondition("TargetMissing") == "False"; }, 10s));
  ASSERT_TRUE(client().patch(kube::resources::configMaps(), ns(), "scalar", kube::PatchType::kMerge,
                             {{"data", {{"config.json", "{\"rabbitmq\": {}}"}}}}, {}).ok());
  EXPECT_TRUE(eventually([&] { return bindingCondition("Bound") == "True"; }, 20s)) << bindingCondition("Bound", "message");
  EXPECT_EQ(json::parse(get(kube::resources::configMaps(), "scalar")["data"]["config.json"].get<std::string>()),
            (json{{"rabbitmq", {{"host", host}}}}));
  ASSERT_TRUE(client().patch(kube::resources::configMaps(), ns(), "nowhere", kube::PatchType::kMerge,
                             {{"data", {{"a", "MODE=x\nHOST=old\n"}}}}, {}).ok());
  EXPECT_TRUE(eventually([&] { return get(kube::resources::configMaps(), "nowhere")["data"]["a"] == "MODE=x\nHOST=" + host + "\n"; }, 20s))
      << "an old address re-applied to a target was not corrected";
}

// Secrets are never watched: a binding that writes into one, or copies the
// cluster's credentials, re-reads them periodically (1 s here, 60 s by
// default) and undoes drift.
TEST_F(BrokerBindingIntegrationTest, SecretTargetsAndCredentialCopiesAreRecheckedForDrift) {
  testing::RunningOperator operator_process(ns(), 1s);
  ASSERT_TRUE(client().create(api::brokerClusters(), ns(),
                              {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerCluster"},
                               {"metadata", {{"name", "bus"}}}, {"spec", {{"replicas", 1}}}}, {}).ok());
  ASSERT_TRUE(client().create(kube::resources::secrets(), ns(),
                              {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "app-env"}}},
                               {"data", {{".env", kube::base64Encode("RABBITMQ_HOST=unset\n")}}}}, {}).ok());
  ASSERT_TRUE(client().create(brokerBindings(), ns(), json::parse(R"({
      "apiVersion": "warren.dev/v1alpha1", "kind": "BrokerBinding", "metadata": {"name": "app"},
      "spec": {"brokerClusterRef": {"name": "bus"},
               "targets": [{"kind": "Secret", "name": "app-env", "key": ".env", "format": "env",
                            "fields": {"host": "RABBITMQ_HOST"}}],
               "credentialsSecretName": "app-rabbitmq"}})"), {}).ok());
  ASSERT_TRUE(eventually([&] { return bindingCondition("Bound") == "True"; }, 90s)) << bindingCondition("Bound", "message");
  ASSERT_TRUE(eventually([&] { return get(api::brokerClusters(), "bus").value("/status/readyReplicas"_json_pointer, 0) == 1; }, 60s));
  const std::string host = api::nodeHost(get(api::brokerClusters(), "bus")["status"]["activeNode"]);
  auto env = [&] {
    const json secret = get(kube::resources::secrets(), "app-env");
    return secret.is_null() ? std::string() : *kube::base64Decode(secret["data"][".env"].get<std::string>());
  };
  ASSERT_TRUE(eventually([&] { return env() == "RABBITMQ_HOST=" + host + "\n"; }, 10s));

  // Someone re-applies the app's Secret with the old value, and deletes the copy.
  ASSERT_TRUE(client().patch(kube::resources::secrets(), ns(), "app-env", kube::PatchType::kMerge,
                             {{"data", {{".env", kube::base64Encode("RABBITMQ_HOST=unset\n")}}}}, {}).ok());
  ASSERT_TRUE(client().remove(kube::resources::secrets(), ns(), "app-rabbitmq", {}).ok());
  EXPECT_TRUE(eventually([&] { return env() == "RABBITMQ_HOST=" + host + "\n"; }, 15s)) << "drift in a Secret target was not undone";
  EXPECT_TRUE(eventually([&] { return !get(kube::resources::secrets(), "app-rabbitmq").is_null(); }, 15s))
      << "a deleted credentials copy was not made again";
}

// warren's own Secrets are watched (metadata only), not polled: with the default 60 s recheck, a deleted
// or rotated one is acted on within seconds. Without the watch every step here would wait a minute.
TEST_F(BrokerBindingIntegrationTest, WarrensOwnSecretsAreWatchedNotPolled) {
  testing::RunningOperator operator_process(ns());  // kDefaultSecretRecheck: 60 s
  ASSERT_TRUE(client().create(api::brokerClusters(), ns(),
                              {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerCluster"}, {"metadata", {{"name", "bus"}}},
                               {"spec", {{"replicas", 1}, {"mqtt", {{"enabled", true}}}}}}, {}).ok());
  ASSERT_TRUE(client().create(countingServices(), ns(),
                              {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "CountingService"}, {"metadata", {{"name", "demo"}}},
                               {"spec", {{"brokerClusterRef", {{"name", "bus"}}}}}}, {}).ok());
  ASSERT_TRUE(client().create(brokerBindings(), ns(), json::parse(R"({
      "apiVersion": "warren.dev/v1alpha1", "kind": "BrokerBinding", "metadata": {"name": "app"},
      "spec": {"brokerClusterRef": {"name": "bus"}, "credentialsSecretName": "app-rabbitmq"}})"), {}).ok());
  ASSERT_TRUE(eventually([&] { return bindingCondition("Bound") == "True"; }, 90s));
  auto config_password = [&] {
    const json secret = get(kube::resources::secrets(), "demo-config");
    if (secret.is_null()) return std::string();
    return json::parse(*kube::base64Decode(secret["data"]["service.json"].get<std::string>()))["broker"]["password"].get<std::string>();
  };
  ASSERT_TRUE(eventually([&] { return !config_password().empty(); }, 30s));

  // A rotated password reaches the counting config and the binding's copy.
  json user = get(kube::resources::secrets(), "bus-default-user");
  user["data"]["password"] = kube::base64Encode("rotated-password");
  ASSERT_TRUE(client().update(kube::resources::secrets(), ns(), user, {}).ok());
  EXPECT_TRUE(eventually([&] { return config_password() == "rotated-password"; }, 20s)) << "the rotation was polled for, not watched";
  EXPECT_TRUE(eventually([&] {
    const json copy = get(kube::resources::secrets(), "app-rabbitmq");
    return !copy.is_null() && copy["data"]["password"] == kube::base64Encode("rotated-password");
  }, 20s));

  // A deleted copy and a deleted config come back at once.
  ASSERT_TRUE(client().remove(kube::resources::secrets(), ns(), "app-rabbitmq", {}).ok());
  ASSERT_TRUE(client().remove(kube::resources::secrets(), ns(), "demo-config", {}).ok());
  EXPECT_TRUE(eventually([&] { return !get(kube::resources::secrets(), "app-rabbitmq").is_null(); }, 20s));
  EXPECT_TRUE(eventually([&] { return !get(kube::resources::secrets(), "demo-config").is_null(); }, 20s));

  // The default-user Secret deleted while the broker pod runs: Degraded at once, no new password.
  ASSERT_TRUE(client().remove(kube::resources::secrets(), ns(), "bus-default-user", {}).ok());
  EXPECT_TRUE(eventually([&] {
    const json conditions = get(api::brokerClusters(), "bus").value("/status/conditions"_json_pointer, json::array());
    const json* c = runtime::findCondition(conditions, "Degraded");
    return c != nullptr && c->value("reason", "") == "DefaultUserMissing";
  }, 20s));
  EXPECT_TRUE(get(kube::resources::secrets(), "bus-default-user").is_null());
}

TEST_F(BrokerBindingIntegrationTest, CountingServiceFollowsTheActiveNodeAndKeepsItsStartTime) {
  testing::RunningOperator operator_process(ns());
  ASSERT_TRUE(client().create(api::brokerClusters(), ns(),
                              {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerCluster"},
                               {"metadata", {{"name", "counting"}}},
                               {"spec", {{"replicas", 2}, {"mqtt", {{"enabled", true}}}, {"failover", {{"unhealthyAfterSeconds", 2}}}}}},
                              {}).ok());
  ASSERT_TRUE(client().create(countingServices(), ns(),
                              {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "CountingService"},
                               {"metadata", {{"name", "demo"}}},
                               {"spec", {{"brokerClusterRef", {{"name", "counting"}}}, {"intervalSeconds", 1}}}}, {}).ok());
  ASSERT_TRUE(client().create(countingServices(), ns(),
                              {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "CountingService"},
                               {"metadata", {{"name", "amqp"}}},
                               {"spec", {{"brokerClusterRef", {{"name", "counting"}}}, {"protocol", "amqp"}}}}, {}).ok());
  auto ready = [&](const char* name) {
    return [this, name] {
      const json conditions = get(countingServices(), name).value("/status/conditions"_json_pointer, json::array());
      const json* c = runtime::findCondition(conditions, "Ready");
      return c != nullptr && c->value("status", "") == "True";
    };
  };
  ASSERT_TRUE(eventually(ready("demo"), 90s));
  ASSERT_TRUE(eventually(ready("amqp"), 30s));
  ASSERT_TRUE(eventually([&] { return get(api::brokerClusters(), "counting").value("/status/readyReplicas"_json_pointer, 0) == 2; }, 90s));
  ASSERT_TRUE(eventually([&] {
    return get(countingServices(), "demo")["status"]["currentNode"] == get(api::brokerClusters(), "counting")["status"]["activeNode"];
  }, 30s));
  const json status = get(countingServices(), "demo")["status"];
  const std::string start_time = status["startTime"];
  const int first = testing::ordinalOfNode(status["currentNode"]);
  const int second = testing::failoverTarget(first);
  auto config = [&](const char* key, const std::string& service = "demo") {
    return json::parse(*kube::base64Decode(get(kube::resources::secrets(), service + "-config")["data"][key].get<std::string>()));
  };
  EXPECT_EQ(config("service.json")["broker"]["host"], "counting-server-" + std::to_string(first) + ".counting-nodes." + ns() + ".svc");
  EXPECT_EQ(config("service.json")["broker"]["port"], 1883);
  EXPECT_EQ(config("service.json")["broker"]["protocol"], "mqtt");
  EXPECT_EQ(config("client.json", "amqp")["broker"]["protocol"], "amqp");
  EXPECT_EQ(config("client.json", "amqp")["broker"]["port"], 5672);
  EXPECT_EQ(config("client.json")["startTime"], start_time);
  EXPECT_FALSE(config("client.json")["broker"]["password"].get<std::string>().empty());
  for (const char* deployment : {"demo-service", "demo-client"}) {
    EXPECT_FALSE(get(kube::resources::deployments(), deployment).is_null()) << deployment;
  }
  const std::string checksum =
      get(kube::resources::deployments(), "demo-service")["spec"]["template"]["metadata"]["annotations"]["warren.dev/config-checksum"];

  ASSERT_TRUE(testing::setPodReady(client(), ns(), "counting-server-" + std::to_string(first), false).ok());
  ASSERT_TRUE(eventually([&] {
    return config("service.json")["broker"]["host"] == "counting-server-" + std::to_string(second) + ".counting-nodes." + ns() + ".svc";
  }, 30s));
  EXPECT_TRUE(eventually([&] {
    return get(kube::resources::deployments(), "demo-client")["spec"]["template"]["metadata"]["annotations"]["warren.dev/config-checksum"] != checksum;
  }, 10s)) << "the programs were not rolled onto the new node";
  EXPECT_TRUE(eventually([&] {
    return config("client.json", "amqp")["broker"]["host"] == "counting-server-" + std::to_string(second) + ".counting-nodes." + ns() + ".svc";
  }, 10s)) << "the AMQP pair was not rerouted";
  EXPECT_EQ(get(countingServices(), "demo")["status"]["startTime"], start_time) << "the count would have been reset";
  EXPECT_EQ(config("service.json")["startTime"], start_time);
}

TEST_F(BrokerBindingIntegrationTest, CountingServiceSaysWhatItWaitsFor) {
  testing::RunningOperator operator_process(ns(), 1s);  // Secrets re-read every second
  const json service = {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "CountingService"},
                        {"metadata", {{"name", "waiting"}}},
                        {"spec", {{"brokerClusterRef", {{"name", "plain"}}}}}};
  json bad = service;
  bad["spec"]["protocol"] = "stomp";
  auto rejected = client().create(countingServices(), ns(), bad, {});
  ASSERT_FALSE(rejected.ok());
  EXPECT_THAT(rejected.error().message, ::testing::HasSubstr("spec.protocol"));

  ASSERT_TRUE(client().create(countingServices(), ns(), service, {}).ok());
  auto reason = [&] {
    const json conditions = get(countingServices(), "waiting").value("/status/conditions"_json_pointer, json::array());
    const json* c = runtime::findCondition(conditions, "Ready");
    return c == nullptr ? std::string() : c->value("reason", std::string());
  };
  EXPECT_TRUE(eventually([&] { return reason() == "ClusterNotFound"; }, 30s)) << reason();
  ASSERT_TRUE(client().create(api::brokerClusters(), ns(),
                              {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerCluster"},
                               {"metadata", {{"name", "plain"}}}, {"spec", {{"replicas", 1}}}}, {}).ok());
  EXPECT_TRUE(eventually([&] { return reason() == "MqttDisabled"; }, 30s)) << reason();
  // AMQP needs no plugin: the same pair becomes Ready once it speaks AMQP.
  ASSERT_TRUE(client().patch(countingServices(), ns(), "waiting", kube::PatchType::kMerge,
                             {{"spec", {{"protocol", "amqp"}}}}, {}).ok());
  ASSERT_TRUE(eventually([&] { return reason() == "Configured"; }, 90s)) << reason();

  // Secrets are not watched; the recheck alone puts a deleted config back and
  // carries a rotated password into it.
  auto password = [&] {
    const json secret = get(kube::resources::secrets(), "waiting-config");
    if (secret.is_null()) return std::string();
    return json::parse(*kube::base64Decode(secret["data"]["client.json"].get<std::string>()))["broker"]["password"].get<std::string>();
  };
  ASSERT_TRUE(client().remove(kube::resources::secrets(), ns(), "waiting-config", {}).ok());
  EXPECT_TRUE(eventually([&] { return !password().empty(); }, 15s)) << "the deleted config was not rendered again";
  ASSERT_TRUE(client().patch(kube::resources::secrets(), ns(), "plain-default-user", kube::PatchType::kMerge,
                             {{"data", {{"password", kube::base64Encode("rotated-by-the-user")}}}}, {}).ok());
  EXPECT_TRUE(eventually([&] { return password() == "rotated-by-the-user"; }, 15s)) << password();
}

}  // namespace
}  // namespace warren::controllers
