// The BrokerCluster controller on the real local control plane (kwok makes
// the pods Ready): children and status, spec edits, scale-down refusal,
// restart without writes, pause, a missing cookie, deletion by the garbage
// collector, and invalid CRs rejected by the CRD schema.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/broker_cluster.h"
#include "controllers/broker_cluster_controller.h"
#include "live_cluster.h"
#include "running_operator.h"
#include "runtime/manager.h"
#include "runtime/metrics.h"
#include "kube/tls_material.h"
#include "runtime/object_helpers.h"

namespace warren::controllers {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::LiveClusterTest;

class BrokerClusterIntegrationTest : public LiveClusterTest {
 protected:
  static void SetUpTestSuite() { testing::installCrds(); }

  Result<json> createCluster(const std::string& name, const json& spec) {
    return client().create(api::brokerClusters(), ns(),
                           {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerCluster"},
                            {"metadata", {{"name", name}}}, {"spec", spec}}, {});
  }
  std::string condition(const std::string& cluster, const std::string& type, const char* field = "status") {
    const json object = get(api::brokerClusters(), cluster);
    if (object.is_null()) return "";
    const json conditions = object.value("/status/conditions"_json_pointer, json::array());
    const json* c = runtime::findCondition(conditions, type);
    return c ? c->value(field, "") : "";
  }
  int stsReplicas(const std::string& cluster) {
    const json sts = get(kube::resources::statefulSets(), cluster + "-server");
    return sts.is_null() ? -1 : sts.value("/spec/replicas"_json_pointer, -1);
  }
  Status patchSpec(const std::string& cluster, const json& patch) {
    auto patched = client().patch(api::brokerClusters(), ns(), cluster, kube::PatchType::kMerge, patch, {});
    if (!patched) return patched.error();
    return okStatus();
  }
};

TEST_F(BrokerClusterIntegrationTest, LifecycleFromCreateToGarbageCollection) {
  // Secrets are re-read every second here (60 s by default), so the test can
  // show that a vanished Secret is noticed without any other event.
  constexpr auto kSecretRecheck = 1s;
  auto manager = std::make_unique<testing::RunningOperator>(ns(), kSecretRecheck);
  ASSERT_TRUE(createCluster("life", {{"replicas", 3}, {"mqtt", {{"enabled", true}}}}).ok());

  // Children with the expected content.
  ASSERT_TRUE(eventually([&] { return stsReplicas("life") == 3; }, 60s));
  const json client_service = get(kube::resources::services(), "life");
  ASSERT_FALSE(client_service.is_null());
  std::set<int> ports;
  for (const auto& p : client_service["spec"]["ports"]) ports.insert(p["port"].get<int>());
  EXPECT_EQ(ports, (std::set<int>{5672, 15672, 15692, 1883}));
  const json headless = get(kube::resources::services(), "life-nodes");
  EXPECT_EQ(headless["spec"]["clusterIP"], "None");
  EXPECT_EQ(headless["spec"]["publishNotReadyAddresses"], true);
  const json config = get(kube::resources::configMaps(), "life-config");
  EXPECT_THAT(config["data"]["10-warren.conf"].get<std::string>(),
              HasSubstr("cluster_formation.classic_config.nodes.3 = rabbit@life-server-2.life-nodes." + ns()));
  EXPECT_EQ(get(kube::resources::podDisruptionBudgets(), "life")["spec"]["maxUnavailable"], 1);
  const json cookie = get(kube::resources::secrets(), "life-erlang-cookie");
  const json user = get(kube::resources::secrets(), "life-default-user");
  ASSERT_FALSE(cookie.is_null());
  ASSERT_FALSE(user.is_null());
  EXPECT_EQ(user["type"], "servicebinding.io/rabbitmq");
  for (const char* key : {"username", "password", "host", "port", "uri", "type", "provider", "mqtt-port"}) {
    EXPECT_TRUE(user["data"].contains(key)) << key;
  }
  for (const json& child : {get(kube::resources::statefulSets(), "life-server"), config}) {
    EXPECT_EQ(child["metadata"]["ownerReferences"][0]["kind"], "BrokerCluster");
    EXPECT_EQ(child["metadata"]["ownerReferences"][0]["controller"], true);
  }
  // The Secrets live as long as the data (the volume claims are kept by default): labelled, not owned.
  for (const json& secret : {cookie, user}) {
    EXPECT_FALSE(secret["metadata"].contains("ownerReferences")) << secret["metadata"]["name"];
    EXPECT_EQ(secret["metadata"]["labels"][api::kClusterLabel], "life");
  }

  // Status: Ready, with the active node and per-node health.
  ASSERT_TRUE(eventually([&] { return condition("life", "AllReplicasReady") == "True"; }, 90s));
  json status = get(api::brokerClusters(), "life")["status"];
  EXPECT_EQ(status["readyReplicas"], 3);
  EXPECT_THAT(status["activeNode"].get<std::string>(), ::testing::MatchesRegex("rabbit@life-server-[0-2]\\.life-nodes\\..*"));
  EXPECT_EQ(status["nodes"].size(), 3u);
  EXPECT_EQ(status["binding"]["name"], "life-default-user");
  EXPECT_EQ(status["endpoints"]["mqtt"], "life." + ns() + ".svc:1883");
  EXPECT_EQ(condition("life", "ClusterAvailable"), "True");
  EXPECT_EQ(condition("life", "ReconcileSuccess"), "True");
  EXPECT_EQ(condition("life", "Degraded"), "False");

  // Edit the spec: the StatefulSet follows; a config change rolls the pods.
  const std::string checksum_before =
      get(kube::resources::statefulSets(), "life-server")["spec"]["template"]["metadata"]["annotations"]["warren.dev/config-checksum"];
  ASSERT_TRUE(patchSpec("life", {{"spec", {{"replicas", 4}, {"rabbitmq", {{"additionalConfig", "heartbeat = 30\n"}}}}}}).ok());
  ASSERT_TRUE(eventually([&] { return stsReplicas("life") == 4; }, 60s));
  EXPECT_NE(get(kube::resources::statefulSets(), "life-server")["spec"]["template"]["metadata"]["annotations"]["warren.dev/config-checksum"],
            checksum_before);

  // Scale-down is refused unless the spec opts in.
  ASSERT_TRUE(patchSpec("life", {{"spec", {{"replicas", 2}}}}).ok());
  ASSERT_TRUE(eventually([&] { return condition("life", "ReconcileSuccess", "reason") == "ScaleDownRefused"; }, 30s));
  EXPECT_EQ(stsReplicas("life"), 4);
  EXPECT_THAT(condition("life", "ReconcileSuccess", "message"), HasSubstr("allowScaleDown"));
  // Opted in, the nodes still stay until their quorum-queue members have moved off, which needs the
  // brokers' management API: kwok's pods run no broker, so warren keeps them and says why.
  ASSERT_TRUE(patchSpec("life", {{"spec", {{"allowScaleDown", true}}}}).ok());
  ASSERT_TRUE(eventually([&] { return condition("life", "ReconcileSuccess", "reason") == "ScaleDownInProgress"; }, 30s));
  EXPECT_EQ(stsReplicas("life"), 4);
  EXPECT_THAT(condition("life", "ReconcileSuccess", "message"), HasSubstr("quorum-queue members"));
  // Withdrawn: all is as specified again.
  ASSERT_TRUE(patchSpec("life", {{"spec", {{"replicas", 4}}}}).ok());
  ASSERT_TRUE(eventually([&] { return condition("life", "ReconcileSuccess") == "True"; }, 30s));
  ASSERT_TRUE(eventually([&] { return condition("life", "AllReplicasReady") == "True"; }, 60s));

  // Restart the operator: the cookie and password are untouched, and a
  // cluster left alone causes no writes.
  std::this_thread::sleep_for(2s);
  manager.reset();
  const double writes_before = runtime::Manager::apiWrites();
  manager = std::make_unique<testing::RunningOperator>(ns(), kSecretRecheck);
  ASSERT_TRUE(eventually([&] { return manager->ready(); }, 30s));
  // Positive signal first: the restarted operator has reconciled the cluster as it now is (its first
  // reconcile after the initial list, and the Secrets' re-reads); only then is "it wrote nothing" a finding.
  const std::string settled = get(api::brokerClusters(), "life")["metadata"]["resourceVersion"];
  ASSERT_TRUE(eventually([&] { return manager->reconciledVersion(ns(), "life", settled); }, 30s));
  EXPECT_EQ(runtime::Manager::apiWrites(), writes_before) << "a restarted operator wrote to a cluster in steady state";
  EXPECT_EQ(get(kube::resources::secrets(), "life-erlang-cookie")["data"], cookie["data"]);
  EXPECT_EQ(get(kube::resources::secrets(), "life-default-user")["data"], user["data"]);

  // Paused: no writes at all, whatever the spec says.
  ASSERT_TRUE(client().patch(api::brokerClusters(), ns(), "life", kube::PatchType::kMerge,
                             {{"metadata", {{"annotations", {{api::kPauseAnnotation, "true"}}}}}}, {}).ok());
  auto paused_spec = client().patch(api::brokerClusters(), ns(), "life", kube::PatchType::kMerge,
                                    {{"spec", {{"replicas", 5}}}}, {});
  ASSERT_TRUE(paused_spec.ok());
  // The operator has seen the new spec and reconciled it, paused: still 4.
  const std::string paused_version = (*paused_spec)["metadata"]["resourceVersion"];
  ASSERT_TRUE(eventually([&] { return manager->reconciledVersion(ns(), "life", paused_version); }, 30s));
  EXPECT_EQ(stsReplicas("life"), 4);
  ASSERT_TRUE(client().patch(api::brokerClusters(), ns(), "life", kube::PatchType::kMerge,
                             {{"metadata", {{"annotations", {{api::kPauseAnnotation, nullptr}}}}}}, {}).ok());
  ASSERT_TRUE(eventually([&] { return stsReplicas("life") == 5; }, 30s));

  // The default-user Secret vanishes while pods exist: no new password (the
  // brokers keep the user they first booted with), a Degraded condition that
  // says what to do; restoring the Secret clears it. Only the recheck notices.
  ASSERT_TRUE(client().remove(kube::resources::secrets(), ns(), "life-default-user", {}).ok());
  ASSERT_TRUE(eventually([&] { return condition("life", "Degraded", "reason") == "DefaultUserMissing"; }, 30s));
  EXPECT_THAT(condition("life", "Degraded", "message"), HasSubstr("Restore the Secret"));
  EXPECT_TRUE(get(kube::resources::secrets(), "life-default-user").is_null()) << "a new password was generated";
  json restored = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"type", user["type"]}, {"data", user["data"]},
                   {"metadata", {{"name", "life-default-user"}, {"labels", user["metadata"]["labels"]}}}};
  ASSERT_TRUE(client().create(kube::resources::secrets(), ns(), restored, {}).ok());
  ASSERT_TRUE(eventually([&] { return condition("life", "Degraded") == "False"; }, 30s));

  // The cookie Secret vanishes while pods exist: no new cookie, a Degraded
  // condition that says what happened and what to do.
  ASSERT_TRUE(client().remove(kube::resources::secrets(), ns(), "life-erlang-cookie", {}).ok());
  ASSERT_TRUE(eventually([&] { return condition("life", "Degraded", "reason") == "ErlangCookieMissing"; }, 30s));
  EXPECT_THAT(condition("life", "Degraded", "message"), HasSubstr("Restore the Secret"));
  EXPECT_THAT(condition("life", "Degraded", "message"), ::testing::Not(HasSubstr("delete the StatefulSet")));
  EXPECT_TRUE(get(kube::resources::secrets(), "life-erlang-cookie").is_null()) << "a new cookie was generated";
  json restored_cookie = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"type", cookie["type"]}, {"data", cookie["data"]},
                          {"metadata", {{"name", "life-erlang-cookie"}, {"labels", cookie["metadata"]["labels"]}}}};
  ASSERT_TRUE(client().create(kube::resources::secrets(), ns(), restored_cookie, {}).ok());
  ASSERT_TRUE(eventually([&] { return condition("life", "Degraded") == "False"; }, 30s));

  // Deleting the BrokerCluster: the real garbage collector removes the children; the Secrets stay with
  // the volume claims' data.
  ASSERT_TRUE(client().remove(api::brokerClusters(), ns(), "life", {}).ok());
  EXPECT_TRUE(eventually([&] {
    return get(kube::resources::statefulSets(), "life-server").is_null() && get(kube::resources::services(), "life").is_null() &&
           get(kube::resources::configMaps(), "life-config").is_null() &&
           get(kube::resources::podDisruptionBudgets(), "life").is_null();
  }, 90s)) << "children left behind after deleting the BrokerCluster";
  EXPECT_FALSE(get(kube::resources::secrets(), "life-erlang-cookie").is_null());
  EXPECT_FALSE(get(kube::resources::secrets(), "life-default-user").is_null());

  // Created again under the same name: the same cookie and password, which the retained data knows.
  ASSERT_TRUE(createCluster("life", {{"replicas", 3}, {"mqtt", {{"enabled", true}}}}).ok());
  ASSERT_TRUE(eventually([&] { return stsReplicas("life") == 3; }, 60s));
  EXPECT_EQ(get(kube::resources::secrets(), "life-erlang-cookie")["data"], cookie["data"]);
  EXPECT_EQ(get(kube::resources::secrets(), "life-default-user")["data"], user["data"]);
  EXPECT_EQ(condition("life", "Degraded"), "False");
}

TEST_F(BrokerClusterIntegrationTest, EveryExampleBecomesReady) {
  // In a namespace that enforces the restricted Pod Security Standard: a broker pod that did not meet it
  // would be refused at admission and never become Ready.
  ASSERT_TRUE(client().patch(kube::resources::namespaces(), "", ns(), kube::PatchType::kMerge,
                             {{"metadata", {{"labels", {{"pod-security.kubernetes.io/enforce", "restricted"},
                                                        {"pod-security.kubernetes.io/enforce-version", "latest"}}}}}},
                             {}).ok());
  testing::RunningOperator manager(ns());
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(std::string(std::getenv("WARREN_ROOT")) + "/examples")) {
    if (entry.path().filename() != "broker-cluster.yaml") continue;
    const std::string command = std::string(std::getenv("WARREN_KUBECTL")) + " --kubeconfig " +
                                std::getenv("WARREN_TEST_KUBECONFIG") + " apply -n " + ns() + " -f " +
                                entry.path().string() + " -o jsonpath='{.metadata.name}' > " +
                                ::testing::TempDir() + "example-name";
    ASSERT_EQ(std::system(command.c_str()), 0) << entry.path();
    std::ifstream in(::testing::TempDir() + "example-name");
    names.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ASSERT_GE(names.size(), 2u);
  for (const auto& name : names) {
    EXPECT_TRUE(eventually([&] { return condition(name, "AllReplicasReady") == "True"; }, 90s)) << name;
    EXPECT_EQ(condition(name, "ReconcileSuccess"), "True") << name;
  }
}

TEST_F(BrokerClusterIntegrationTest, QuantitiesTheServerRespellsCauseNoWritesInSteadyState) {
  testing::RunningOperator manager(ns(), 1s);
  ASSERT_TRUE(createCluster("qty", {{"replicas", 1},
                                    {"resources", {{"limits", {{"memory", "1024Mi"}, {"cpu", "0.5"}}},
                                                   {"requests", {{"memory", "1024Mi"}, {"cpu", "0.5"}}}}},
                                    {"persistence", {{"storage", "10240Mi"}}}}).ok());
  ASSERT_TRUE(eventually([&] { return condition("qty", "AllReplicasReady") == "True"; }, 90s));
  // The server keeps them as 1Gi, 500m and 10Gi.
  EXPECT_EQ(get(kube::resources::statefulSets(), "qty-server")["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"], "1Gi");
  // Positive signal: the operator has reconciled the cluster at its current version (its last status write
  // included); then a nudge (an annotation: a new version, same spec) makes it reconcile once more, which
  // would re-apply a child it took for changed.
  const std::string settled = get(api::brokerClusters(), "qty")["metadata"]["resourceVersion"];
  ASSERT_TRUE(eventually([&] { return manager.reconciledVersion(ns(), "qty", settled); }, 30s));
  // Server-side applies by the operator (other writes, such as a status update for a pod event, are not
  // what this test is about).
  auto applies = [] {
    double total = 0;
    metrics::registry()
        .counter("rest_client_requests_total", "API requests by verb and HTTP status code (0: no response).",
                 {"verb", "code"})
        .forEach([&total](const metrics::LabelValues& labels, const metrics::Counter& counter) {
          if (labels.at(0) == "apply") total += counter.value();
        });
    return total;
  };
  const double applies_before = applies();
  // Counted before the nudge: the nudge's reconcile can finish before the patch call returns here.
  const double reconciles = testing::RunningOperator::reconcileCount();
  auto nudged = client().patch(api::brokerClusters(), ns(), "qty", kube::PatchType::kMerge,
                               {{"metadata", {{"annotations", {{"test/nudge", "1"}}}}}}, {});
  ASSERT_TRUE(nudged.ok());
  ASSERT_TRUE(eventually([&] {
    return testing::RunningOperator::reconcileCount() > reconciles &&
           manager.reconciledVersion(ns(), "qty", (*nudged)["metadata"]["resourceVersion"]);
  }, 30s));
  EXPECT_EQ(applies(), applies_before) << "1024Mi vs the server's 1Gi was re-applied";
}

TEST_F(BrokerClusterIntegrationTest, ActiveNodeFailsOverStaysAndWaitsWhenAllAreDown) {
  testing::RunningOperator manager(ns());
  ASSERT_TRUE(createCluster("fo", {{"replicas", 3}, {"failover", {{"unhealthyAfterSeconds", 2}}}}).ok());
  ASSERT_TRUE(eventually([&] { return condition("fo", "AllReplicasReady") == "True"; }, 90s));
  // The first node to become Ready is active; the failover goes to the lowest other one.
  const int first = testing::ordinalOfNode(get(api::brokerClusters(), "fo")["status"]["activeNode"]);
  const int second = testing::failoverTarget(first);
  const std::string node0 = "rabbit@fo-server-" + std::to_string(first) + ".fo-nodes." + ns();
  const std::string node1 = "rabbit@fo-server-" + std::to_string(second) + ".fo-nodes." + ns();

  // The active pod goes NotReady: after the debounce, the other node takes over.
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(testing::setPodReady(client(), ns(), "fo-server-" + std::to_string(first), false).ok());
  ASSERT_TRUE(eventually([&] { return get(api::brokerClusters(), "fo")["status"]["activeNode"] == node1; }, 30s));
  std::cout << "active node moved " << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
            << " s after the pod went NotReady (debounce 2 s)" << std::endl;
  const json status = get(api::brokerClusters(), "fo")["status"];
  EXPECT_EQ(status["lastFailover"]["from"], node0);
  EXPECT_EQ(status["lastFailover"]["to"], node1);
  EXPECT_EQ(status["lastFailover"]["reason"], "PodNotReady");
  EXPECT_EQ(status["nodes"][first]["healthy"], false);
  kube::ListOptions by_reason;
  by_reason.field_selector = "reason=Rerouted";
  EXPECT_TRUE(eventually([&] {
    auto events = client().list(kube::resources::events(), ns(), by_reason);
    return events && (*events)["items"].size() == 1;
  }, 10s)) << "expected exactly one Rerouted Event";

  // The first node recovers: nothing moves back.
  ASSERT_TRUE(testing::setPodReady(client(), ns(), "fo-server-" + std::to_string(first), true).ok());
  ASSERT_TRUE(eventually([&] { return get(api::brokerClusters(), "fo")["status"]["nodes"][first]["ready"] == true; }, 30s));
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(get(api::brokerClusters(), "fo")["status"]["activeNode"], node1);

  // Every pod down: the active node stays as it is and NoHealthyNode says why.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(testing::setPodReady(client(), ns(), "fo-server-" + std::to_string(i), false).ok());
  ASSERT_TRUE(eventually([&] { return condition("fo", "NoHealthyNode") == "True"; }, 30s));
  EXPECT_EQ(get(api::brokerClusters(), "fo")["status"]["activeNode"], node1);
  EXPECT_EQ(condition("fo", "ClusterAvailable"), "False");

  // A node other than the active one recovers: it is used at once.
  const int third = 3 - first - second;
  ASSERT_TRUE(testing::setPodReady(client(), ns(), "fo-server-" + std::to_string(third), true).ok());
  EXPECT_TRUE(eventually([&] {
    return get(api::brokerClusters(), "fo")["status"]["activeNode"] == "rabbit@fo-server-" + std::to_string(third) + ".fo-nodes." + ns();
  }, 30s));
  EXPECT_EQ(condition("fo", "NoHealthyNode"), "False");
}

TEST_F(BrokerClusterIntegrationTest, AnExistingCookieSecretIsKeptByteForByte) {
  const std::string cookie = std::string("pre-existing-cookie-") + std::string(30, 'x');
  ASSERT_TRUE(client().create(kube::resources::secrets(), ns(),
                              {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "keep-erlang-cookie"}}},
                               {"data", {{"cookie", kube::base64Encode(cookie)}}}}, {}).ok());
  testing::RunningOperator manager(ns());
  ASSERT_TRUE(createCluster("keep", {{"replicas", 1}}).ok());
  ASSERT_TRUE(eventually([&] { return stsReplicas("keep") == 1; }, 60s));
  EXPECT_EQ(get(kube::resources::secrets(), "keep-erlang-cookie")["data"]["cookie"], kube::base64Encode(cookie));
}

// Invalid BrokerClusters are rejected by the API server, naming the field.
TEST_F(BrokerClusterIntegrationTest, InvalidSpecsAreRejectedNamingTheField) {
  struct Case { json spec; const char* field; };
  const std::vector<Case> cases = {
      {{{"replicas", 0}}, "spec.replicas"},
      {{{"replicas", 10}}, "spec.replicas"},
      {{{"replicas", "three"}}, "spec.replicas"},
      {{{"replicas", 2.5}}, "spec.replicas"},
      {{{"allowScaleDown", "yes"}}, "spec.allowScaleDown"},
      {{{"image", ""}}, "spec.image"},
      {{{"image", 42}}, "spec.image"},
      {{{"imagePullSecrets", {{{"name", ""}}}}}, "spec.imagePullSecrets[0].name"},
      {{{"imagePullSecrets", {json::object()}}}, "spec.imagePullSecrets[0].name"},
      {{{"resources", {{"requests", {{"cpu", true}}}}}}, "spec.resources.requests.cpu"},
      {{{"persistence", {{"storage", "ten gigs"}}}}, "spec.persistence.storage"},
      {{{"persistence", {{"ephemeral", "no"}}}}, "spec.persistence.ephemeral"},
      {{{"persistence", {{"ephemeral", true}, {"storageClassName", "fast"}}}}, "storageClassName cannot be set"},
      {{{"persistence", {{"reclaimOnDelete", 1}}}}, "spec.persistence.reclaimOnDelete"},
      {{{"rabbitmq", {{"additionalPlugins", {"Bad-Plugin"}}}}}, "spec.rabbitmq.additionalPlugins[0]"},
      {{{"rabbitmq", {{"additionalPlugins", "rabbitmq_shovel"}}}}, "spec.rabbitmq.additionalPlugins"},
      {{{"rabbitmq", {{"defaultQueueType", "lazy"}}}}, "spec.rabbitmq.defaultQueueType"},
      {{{"rabbitmq", {{"additionalConfig", 5}}}}, "spec.rabbitmq.additionalConfig"},
      {{{"mqtt", {{"enabled", "on"}}}}, "spec.mqtt.enabled"},
      {{{"mqtt", {{"port", 0}}}}, "spec.mqtt.port"},
      {{{"mqtt", {{"port", 70000}}}}, "spec.mqtt.port"},
      {{{"mqtt", {{"enabled", true}, {"port", 5672}}}}, "mqtt.port must not collide"},
      {{{"service", {{"type", "ExternalName"}}}}, "spec.service.type"},
      {{{"service", {{"annotations", {{"a", 1}}}}}}, "spec.service.annotations.a"},
      {{{"nodeSelector", {{"kubernetes.io/arch", 64}}}}, "spec.nodeSelector.kubernetes.io/arch"},
      {{{"tolerations", "all"}}, "spec.tolerations"},
      {{{"tls", json::object()}}, "spec.tls.secretName"},
      {{{"tls", {{"secretName", ""}}}}, "spec.tls.secretName"},
      {{{"secrets", {{"erlangCookieSecretName", ""}}}}, "spec.secrets.erlangCookieSecretName"},
      {{{"secrets", {{"defaultUserSecretName", 3}}}}, "spec.secrets.defaultUserSecretName"},
      {{{"failover", {{"policy", "Sometimes"}}}}, "spec.failover.policy"},
      {{{"failover", {{"unhealthyAfterSeconds", 0}}}}, "spec.failover.unhealthyAfterSeconds"},
      {{{"failover", {{"unhealthyAfterSeconds", "5s"}}}}, "spec.failover.unhealthyAfterSeconds"},
      {{{"terminationGracePeriodSeconds", -1}}, "spec.terminationGracePeriodSeconds"},
  };
  ASSERT_GE(cases.size(), 30u);
  int i = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.spec.dump());
    auto created = createCluster("bad-" + std::to_string(i++), c.spec);
    ASSERT_FALSE(created.ok()) << "accepted an invalid BrokerCluster";
    EXPECT_TRUE(created.error().isInvalid()) << created.error().describe();
    EXPECT_THAT(created.error().message, HasSubstr(c.field));
  }
  // Immutable fields are refused on update, naming the field.
  ASSERT_TRUE(createCluster("immutable", {{"persistence", {{"storageClassName", "kwok-volume"}}}}).ok());
  auto changed = patchSpec("immutable", {{"spec", {{"persistence", {{"storageClassName", "other"}}}}}});
  ASSERT_FALSE(changed.ok());
  EXPECT_THAT(changed.error().message, HasSubstr("persistence.storageClassName is immutable"));
}

}  // namespace
}  // namespace warren::controllers
