// BrokerBindingReconciler on an in-memory API server: each decision path
// (InvalidSpec, ClusterNotFound, TargetMissing, NotOwned, a move) in
// milliseconds, and what it writes, down to the single key of a target.
#include <gtest/gtest.h>

#include "api/broker_cluster.h"
#include "cache_support.h"
#include "controllers/broker_binding_controller.h"
#include "fake_client.h"
#include "runtime/object_helpers.h"

namespace warren::controllers {
namespace {

using json = nlohmann::json;

const std::string kNode0 = "rabbit@bus-server-0.bus-nodes.ns";
const std::string kNode1 = "rabbit@bus-server-1.bus-nodes.ns";

class BrokerBindingReconcilerTest : public ::testing::Test {
 protected:
  BrokerBindingReconcilerTest()
      : client_(std::make_shared<testing::FakeClient>()),
        bindings_(testing::emptyCache(brokerBindings())),
        clusters_(testing::emptyCache(api::brokerClusters())),
        reconciler_(client_, bindings_, clusters_, std::make_shared<runtime::EventRecorder>(client_, "warren")) {}

  void cluster(const std::string& active) {
    json c = {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerCluster"},
              {"metadata", {{"name", "bus"}, {"namespace", "ns"}}}, {"spec", {{"replicas", 2}}}};
    if (!active.empty()) c["status"] = {{"activeNode", active}, {"lastFailover", {{"time", "2026-01-01T00:00:00.123456Z"}}}};
    testing::cacheObject(*clusters_, client_->seed(api::brokerClusters(), c));
  }
  // Stores the binding and caches what was stored.
  json binding(const json& spec, const json& status = nullptr) {
    json b = {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerBinding"}, {"metadata", {{"name", "app"}, {"namespace", "ns"}}}};
    if (!spec.is_discarded()) b["spec"] = spec;
    if (!status.is_null()) b["status"] = status;
    const json stored = client_->seed(brokerBindings(), b);
    testing::cacheObject(*bindings_, stored);
    return stored;
  }
  // Caches what the fake now stores (as the watch would deliver it).
  void resync() { testing::cacheObject(*bindings_, client_->stored(brokerBindings(), "ns", "app")); }
  json condition(const std::string& type) {
    const json stored = client_->stored(brokerBindings(), "ns", "app");
    const json* c = runtime::findCondition(stored["status"]["conditions"], type);
    return c ? *c : json();
  }
  runtime::ReconcileOutcome reconcile() { return reconciler_.reconcile({"ns", "app"}); }
  size_t events(const std::string& reason) {
    size_t n = 0;
    for (const auto& call : client_->writesTo("events")) n += call.body.value("reason", "") == reason || call.verb == "patch-merge";
    return n;
  }

  std::shared_ptr<testing::FakeClient> client_;
  std::shared_ptr<runtime::Informer> bindings_, clusters_;
  BrokerBindingReconciler reconciler_;
};

const json kJsonTarget = {{"brokerClusterRef", {{"name", "bus"}}},
                          {"targets", {{{"name", "cfg"}, {"key", "c.json"}, {"format", "json"},
                                        {"fields", {{"host", "broker.host"}, {"port", "broker.port"}}}}}}};

TEST_F(BrokerBindingReconcilerTest, AStoredSpecOfTheWrongShapeIsReportedAndNothingElseIsTouched) {
  for (const json& spec : {json(json::value_t::discarded), json(nullptr), json("x"),
                           json{{"brokerClusterRef", {{"name", "bus"}}}, {"targets", {{{"name", 3}}}}}}) {
    binding(spec);
    client_->clearCalls();
    auto outcome = reconcile();
    ASSERT_TRUE(outcome.ok()) << outcome.error().message;
    EXPECT_FALSE(outcome->requeue_after.has_value());
    EXPECT_EQ(condition("Bound")["reason"], "InvalidSpec") << spec.dump();
    EXPECT_NE(condition("Bound")["message"].get<std::string>().find("spec"), std::string::npos);
    ASSERT_EQ(client_->writes().size(), 1u) << "only the status";
    EXPECT_EQ(client_->writes()[0].verb, "patchStatus-merge");
    EXPECT_EQ(client_->reads(), 0);
  }
}

TEST_F(BrokerBindingReconcilerTest, ClusterNotFoundAndNoActiveNodeLeaveTargetsAlone) {
  binding(kJsonTarget);
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(condition("Bound")["reason"], "ClusterNotFound");
  cluster("");
  resync();
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(condition("Bound")["reason"], "NoActiveNode");
  EXPECT_TRUE(client_->writesTo("configmaps").empty());
}

TEST_F(BrokerBindingReconcilerTest, PatchesExactlyTheTargetKeyUnderAPrecondition) {
  cluster(kNode0);
  const json cm = client_->seed(kube::resources::configMaps(),
                                {{"metadata", {{"name", "cfg"}, {"namespace", "ns"}}},
                                 {"data", {{"c.json", "{\"broker\": {\"host\": \"old\", \"port\": 1}, \"keep\": true}"}, {"other", "x"}}}});
  binding(kJsonTarget);
  ASSERT_TRUE(reconcile().ok());
  const auto writes = client_->writesTo("configmaps");
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].verb, "patch-merge");
  EXPECT_EQ(writes[0].body["metadata"]["resourceVersion"], cm["metadata"]["resourceVersion"]);
  EXPECT_EQ(writes[0].body["data"].size(), 1u) << "only the bound key is sent";
  const json stored = client_->stored(kube::resources::configMaps(), "ns", "cfg");
  EXPECT_EQ(json::parse(stored["data"]["c.json"].get<std::string>())["broker"]["host"], api::nodeHost(kNode0));
  EXPECT_EQ(stored["data"]["other"], "x");
  EXPECT_EQ(condition("Bound")["status"], "True");
  // Steady state: a second reconcile writes nothing.
  resync();
  client_->clearCalls();
  ASSERT_TRUE(reconcile().ok());
  EXPECT_TRUE(client_->writes().empty());
}

// With the ConfigMaps' metadata cached, a move reads no target warren wrote last (one PATCH per target),
// and still reads one that someone changed since: their edit is kept, the precondition is theirs.
TEST_F(BrokerBindingReconcilerTest, AMoveReadsNoTargetItWroteLastButReadsOneSomeoneChanged) {
  auto config_maps = testing::emptyCache(kube::resources::configMaps());
  BrokerBindingReconciler reconciler(client_, bindings_, clusters_, std::make_shared<runtime::EventRecorder>(client_, "warren"),
                                     kDefaultSecretRecheck, config_maps);
  auto settle = [&] {
    resync();
    testing::cacheObject(*config_maps, client_->stored(kube::resources::configMaps(), "ns", "cfg"));
    client_->clearCalls();
  };
  auto host = [&] {
    const json stored = client_->stored(kube::resources::configMaps(), "ns", "cfg");
    return json::parse(stored["data"]["c.json"].get<std::string>())["broker"]["host"].get<std::string>();
  };
  cluster(kNode0);
  client_->seed(kube::resources::configMaps(), {{"metadata", {{"name", "cfg"}, {"namespace", "ns"}}},
                                                {"data", {{"c.json", "{\"broker\": {\"host\": \"old\", \"port\": 1}}"}}}});
  binding(kJsonTarget);
  ASSERT_TRUE(reconciler.reconcile({"ns", "app"}).ok());
  EXPECT_EQ(host(), api::nodeHost(kNode0));
  settle();

  cluster(kNode1);
  ASSERT_TRUE(reconciler.reconcile({"ns", "app"}).ok());
  EXPECT_EQ(client_->reads(), 0) << "the target's text came from what warren wrote";
  EXPECT_EQ(client_->writesTo("configmaps").size(), 1u);
  EXPECT_EQ(host(), api::nodeHost(kNode1));
  settle();

  // Someone rewrites the file; the cache shows a resourceVersion warren did not write.
  client_->seed(kube::resources::configMaps(), {{"metadata", {{"name", "cfg"}, {"namespace", "ns"}}},
                                                {"data", {{"c.json", "{\"broker\": {\"host\": \"theirs\", \"port\": 1}, \"added\": 1}"}}}});
  testing::cacheObject(*config_maps, client_->stored(kube::resources::configMaps(), "ns", "cfg"));
  client_->clearCalls();
  cluster(kNode0);
  ASSERT_TRUE(reconciler.reconcile({"ns", "app"}).ok());
  EXPECT_EQ(client_->reads(), 1);
  EXPECT_EQ(host(), api::nodeHost(kNode0));
  const json stored = client_->stored(kube::resources::configMaps(), "ns", "cfg");
  EXPECT_EQ(json::parse(stored["data"]["c.json"].get<std::string>())["added"], 1) << "their edit is kept";
}

TEST_F(BrokerBindingReconcilerTest, MissingTargetsAreReported) {
  cluster(kNode0);
  binding(kJsonTarget);
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(condition("Bound")["reason"], "TargetMissing");
  EXPECT_EQ(condition("TargetMissing")["status"], "True");
  EXPECT_NE(condition("TargetMissing")["message"].get<std::string>().find("ConfigMap cfg"), std::string::npos);
}

TEST_F(BrokerBindingReconcilerTest, ACredentialsSecretItDidNotCreateIsNeverOverwritten) {
  cluster(kNode0);
  client_->seed(kube::resources::secrets(), {{"metadata", {{"name", "bus-default-user"}, {"namespace", "ns"}}},
                                             {"data", {{"username", "dQ=="}, {"password", "cA=="}}}});
  const json theirs = client_->seed(kube::resources::secrets(), {{"metadata", {{"name", "creds"}, {"namespace", "ns"}}},
                                                                 {"data", {{"precious", "eA=="}}}});
  binding({{"brokerClusterRef", {{"name", "bus"}}}, {"credentialsSecretName", "creds"}});
  auto outcome = reconcile();
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(condition("Bound")["reason"], "NotOwned");
  EXPECT_NE(condition("Bound")["message"].get<std::string>().find("Secret ns/creds"), std::string::npos);
  EXPECT_TRUE(client_->writesTo("secrets").empty());
  EXPECT_EQ(client_->stored(kube::resources::secrets(), "ns", "creds"), theirs);
  // Renamed to a free name: created, owned by the binding.
  binding({{"brokerClusterRef", {{"name", "bus"}}}, {"credentialsSecretName", "creds-2"}});
  ASSERT_TRUE(reconcile().ok());
  const json copy = client_->stored(kube::resources::secrets(), "ns", "creds-2");
  ASSERT_FALSE(copy.is_null());
  EXPECT_EQ(runtime::controllerUid(copy), client_->stored(brokerBindings(), "ns", "app")["metadata"]["uid"]);
  EXPECT_EQ(condition("Bound")["status"], "True");
}

TEST_F(BrokerBindingReconcilerTest, AMovePatchesTargetsFirstThenRecordsAndAnnouncesItOnce) {
  cluster(kNode1);
  client_->seed(kube::resources::configMaps(), {{"metadata", {{"name", "cfg"}, {"namespace", "ns"}}},
                                                {"data", {{"c.json", "{\"broker\": {\"host\": \"x\", \"port\": 1}}"}}}});
  client_->seed(kube::resources::deployments(), {{"metadata", {{"name", "web"}, {"namespace", "ns"}}},
                                                 {"spec", {{"template", {{"metadata", json::object()}}}}}});
  json spec = kJsonTarget;
  spec["workloads"] = {{{"name", "web"}}};
  binding(spec, {{"currentNode", kNode0}});
  // First pass: targets patched and the workload restarted; the status waits behind the other bindings.
  auto first = reconcile();
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first->requeue_after.has_value());
  EXPECT_EQ(first->requeue_after->count(), 0);
  EXPECT_EQ(client_->writesTo("configmaps").size(), 1u);
  EXPECT_EQ(client_->writesTo("deployments").size(), 1u);
  EXPECT_EQ(client_->stored(brokerBindings(), "ns", "app")["status"]["currentNode"], kNode0);
  EXPECT_EQ(events("Rerouted"), 0u);
  // Second pass: the move is recorded, with the time of the first pass, and announced.
  ASSERT_TRUE(reconcile().ok());
  const json status = client_->stored(brokerBindings(), "ns", "app")["status"];
  EXPECT_EQ(status["currentNode"], kNode1);
  EXPECT_FALSE(status.value("lastPatched", "").empty());
  EXPECT_EQ(client_->writesTo("configmaps").size(), 1u) << "the targets are not patched twice";
  // Another reconcile before the cache has seen that status must not announce the move again.
  auto again = reconcile();
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.error().isConflict());
  EXPECT_EQ(events("Rerouted"), 1u);
  EXPECT_EQ(client_->writesTo("deployments").size(), 1u) << "restarted once";
  // Once the cache catches up, steady state.
  resync();
  client_->clearCalls();
  ASSERT_TRUE(reconcile().ok());
  EXPECT_TRUE(client_->writes().empty());
}

}  // namespace
}  // namespace warren::controllers
