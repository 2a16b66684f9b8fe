// BrokerClusterReconciler on an in-memory API server: the decision paths
// (InvalidSpec, cookie gone while pods run, scale-down refused or prepared, NotOwned,
// NoHealthyNode, a failover decided on a stale cache) in milliseconds.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "cache_support.h"
#include "controllers/broker_cluster_controller.h"
#include "controllers/scale_down.h"
#include "fake_client.h"
#include "kube/tls_material.h"
#include "runtime/object_helpers.h"

namespace warren::controllers {
namespace {

using json = nlohmann::json;

class BrokerClusterReconcilerTest : public ::testing::Test {
 protected:
  BrokerClusterReconcilerTest()
      : client_(std::make_shared<testing::FakeClient>()),
        informers_{testing::emptyCache(api::brokerClusters()), testing::emptyCache(kube::resources::statefulSets()),
                   testing::emptyCache(kube::resources::services()), testing::emptyCache(kube::resources::configMaps()),
                   testing::emptyCache(kube::resources::podDisruptionBudgets()), testing::emptyCache(kube::resources::pods()),
                   testing::emptyCache(kube::resources::nodes())} {
    addBrokerClusterIndexes(informers_);
    reconciler_ = std::make_unique<BrokerClusterReconciler>(
        client_, informers_, std::make_shared<runtime::EventRecorder>(client_, "warren"),
        [](size_t n) { return std::string(n, 'r'); });
  }

  json cluster(const json& spec, const json& status = nullptr) {
    json c = {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerCluster"}, {"metadata", {{"name", "bus"}, {"namespace", "ns"}}}};
    if (!spec.is_discarded()) c["spec"] = spec;
    if (!status.is_null()) c["status"] = status;
    const json stored = client_->seed(api::brokerClusters(), c);
    testing::cacheObject(*informers_.clusters, stored);
    return stored;
  }
  void resync() { testing::cacheObject(*informers_.clusters, client_->stored(api::brokerClusters(), "ns", "bus")); }
  // Caches every child the fake holds, as the label-selected informers would.
  void cacheChildren() {
    for (const auto& [type, informer] : {std::pair{&kube::resources::statefulSets(), informers_.stateful_sets},
                                         {&kube::resources::services(), informers_.services},
                                         {&kube::resources::configMaps(), informers_.config_maps},
                                         {&kube::resources::podDisruptionBudgets(), informers_.pdbs}}) {
      const json list = *client_->list(*type, "ns", {});
      for (const auto& item : list["items"]) testing::cacheObject(*informer, item);
    }
  }
  void pod(int ordinal, bool ready, const std::string& since = "2026-01-01T00:00:00Z") {
    const std::string name = "bus-server-" + std::to_string(ordinal);
    testing::cacheObject(*informers_.pods,
                         {{"metadata", {{"name", name}, {"namespace", "ns"}, {"resourceVersion", "1"},
                                        {"labels", {{api::kClusterLabel, "bus"}}}}},
                          {"status", {{"phase", "Running"},
                                      {"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"},
                                                       {"lastTransitionTime", since}}}}}}});
  }
  json condition(const std::string& type) {
    const json stored = client_->stored(api::brokerClusters(), "ns", "bus");
    const json* c = runtime::findCondition(stored["status"]["conditions"], type);
    return c ? *c : json();
  }
  runtime::ReconcileOutcome reconcile() { return reconciler_->reconcile({"ns", "bus"}); }
  // A reconciler that also has warren's metadata-only Secret cache (as in the operator); returns that cache.
  std::shared_ptr<runtime::Informer> useSecretMetadataCache() {
    auto secrets = testing::emptyCache(kube::resources::secrets());
    auto informers = informers_;
    informers.secrets = secrets;
    reconciler_ = std::make_unique<BrokerClusterReconciler>(
        client_, informers, std::make_shared<runtime::EventRecorder>(client_, "warren"),
        [](size_t n) { return std::string(n, 'r'); });
    return secrets;
  }
  size_t events(const std::string& reason) {
    size_t n = 0;
    for (const auto& call : client_->writesTo("events")) n += call.body.value("reason", "") == reason;
    return n;
  }

  void runningClusterWith(class FakeUsers& users);
  // The reconciler, reaching the brokers' management API through `management`.
  void useManagement(ManagementFactory management) {
    reconciler_ = std::make_unique<BrokerClusterReconciler>(
        client_, informers_, std::make_shared<runtime::EventRecorder>(client_, "warren"),
        [](size_t n) { return std::string(n, 'r'); }, kDefaultSecretRecheck, std::move(management));
  }
  // A 2-node cluster with allowScaleDown whose children exist and are cached.
  void reconciledWithTwoNodes(ManagementFactory management) {
    useManagement(std::move(management));
    cluster({{"replicas", 2}, {"allowScaleDown", true}});
    ASSERT_TRUE(reconcile().ok());
    cacheChildren();
  }
  static std::string nodeName(int ordinal) { return "rabbit@bus-server-" + std::to_string(ordinal) + ".bus-nodes.ns"; }

  std::shared_ptr<testing::FakeClient> client_;
  BrokerClusterReconciler::Informers informers_;
  std::unique_ptr<BrokerClusterReconciler> reconciler_;
};

TEST_F(BrokerClusterReconcilerTest, AStoredSpecOfTheWrongShapeIsReported) {
  for (const json& spec : {json(json::value_t::discarded), json(nullptr), json{{"replicas", "three"}}, json{{"mqtt", 1}}}) {
    cluster(spec);
    client_->clearCalls();
    ASSERT_TRUE(reconcile().ok());
    EXPECT_EQ(condition("ReconcileSuccess")["reason"], "InvalidSpec") << spec.dump();
    ASSERT_EQ(client_->writes().size(), 1u);
    EXPECT_EQ(client_->writes()[0].resource, "brokerclusters");
  }
}

TEST_F(BrokerClusterReconcilerTest, CreatesSecretsOnceAndChildrenThenWritesNothing) {
  cluster({{"replicas", 1}});
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(client_->writesTo("secrets").size(), 3u);  // cookie, default user, the credentials applied
  for (const char* child : {"statefulsets", "services", "configmaps", "poddisruptionbudgets"}) {
    EXPECT_FALSE(client_->writesTo(child).empty()) << child;
  }
  // Kept when the claims are kept: no ownerReference, so the garbage collector leaves them for a re-create.
  EXPECT_EQ(runtime::controllerUid(client_->stored(kube::resources::secrets(), "ns", "bus-erlang-cookie")), "");
  resync();
  cacheChildren();
  client_->clearCalls();
  ASSERT_TRUE(reconcile().ok());
  EXPECT_TRUE(client_->writes().empty()) << client_->writes()[0].verb << " " << client_->writes()[0].resource;
}

TEST_F(BrokerClusterReconcilerTest, ReadsItsSecretsAgainOnlyWhenTheirMetadataShowsAChange) {
  auto secrets = useSecretMetadataCache();
  // What warren's metadata-only Secret informer would hold.
  auto cacheSecretMetadata = [&](const std::string& name) {
    json seen = client_->stored(kube::resources::secrets(), "ns", name);
    runtime::keepIdentityAndOwnership(seen);
    testing::cacheObject(*secrets, seen);
  };
  cluster({{"replicas", 1}});
  ASSERT_TRUE(reconcile().ok());
  resync();
  cacheChildren();
  for (const char* name : {"bus-erlang-cookie", "bus-default-user", "bus-default-user-applied"}) cacheSecretMetadata(name);
  client_->clearCalls();
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(client_->reads(), 0);  // the cookie, the user and the applied record are as they were created
  EXPECT_TRUE(client_->writes().empty());

  // An edit shows as a new resourceVersion: that Secret alone is read again.
  json cookie = client_->stored(kube::resources::secrets(), "ns", "bus-erlang-cookie");
  cookie["data"]["cookie"] = kube::base64Encode("short");
  client_->seed(kube::resources::secrets(), cookie);
  cacheSecretMetadata("bus-erlang-cookie");
  client_->clearCalls();
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(client_->reads(), 1);
  const json conditions = client_->stored(api::brokerClusters(), "ns", "bus")["status"]["conditions"];
  const json* degraded = runtime::findCondition(conditions, "ReconcileSuccess");
  ASSERT_NE(degraded, nullptr);
  EXPECT_EQ((*degraded)["status"], "False");
  EXPECT_THAT((*degraded)["message"].get<std::string>(), ::testing::HasSubstr("bus-erlang-cookie"));

  // A Secret gone from the metadata cache is not served from memory: with no broker pod yet, the default user
  // is made anew, created straight away (no read answering 404 first).
  client_->erase(kube::resources::secrets(), "ns", "bus-default-user");
  secrets->apply({runtime::WatcherEvent::Type::kDelete,
                  {{"metadata", {{"name", "bus-default-user"}, {"namespace", "ns"}, {"resourceVersion", "999"}}}}});
  EXPECT_EQ(secrets->store().get("ns/bus-default-user"), nullptr);
  cookie["data"]["cookie"] = kube::base64Encode(std::string(44, 'c'));
  client_->seed(kube::resources::secrets(), cookie);
  cacheSecretMetadata("bus-erlang-cookie");
  resync();
  client_->clearCalls();
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(client_->reads(), 1);  // the changed cookie
  EXPECT_FALSE(client_->stored(kube::resources::secrets(), "ns", "bus-default-user").is_null());
}

TEST(SecretReadsTest, KeepsOnlyWarrensSecretsAndDropsADeletedOne) {
  auto client = std::make_shared<testing::FakeClient>();
  auto cache = testing::emptyCache(kube::resources::secrets());
  SecretReads reads(cache);
  const json labels = {{kManagedByLabel, kManagedByWarren}};
  json mine = client->seed(kube::resources::secrets(), {{"metadata", {{"name", "mine"}, {"namespace", "ns"}, {"labels", labels}}},
                                                        {"data", {{"k", "dg=="}}}});
  client->seed(kube::resources::secrets(), {{"metadata", {{"name", "theirs"}, {"namespace", "ns"}}}, {"data", {{"k", "dg=="}}}});
  ASSERT_TRUE(reads.get(*client, "ns", "mine"));
  ASSERT_TRUE(reads.get(*client, "ns", "theirs"));
  EXPECT_EQ(reads.held(), 1u);  // someone else's Secret is never kept
  runtime::keepIdentityAndOwnership(mine);
  testing::cacheObject(*cache, mine);
  client->clearCalls();
  auto again = reads.get(*client, "ns", "mine");
  ASSERT_TRUE(again);
  EXPECT_EQ(client->reads(), 0);
  EXPECT_EQ(runtime::secretValue(*again, "k"), "v");
  cache->apply({runtime::WatcherEvent::Type::kDelete, mine});
  EXPECT_EQ(reads.held(), 0u);
}

TEST_F(BrokerClusterReconcilerTest, ReusesTheSecretsOfAClusterCreatedAgainUnderTheSameName) {
  client_->seed(kube::resources::secrets(), {{"metadata", {{"name", "bus-erlang-cookie"}, {"namespace", "ns"}}},
                                             {"data", {{"cookie", "b2xkLWNvb2tpZS1vZi10aGUtcmV0YWluZWQtZGF0YQ=="}}}});
  client_->seed(kube::resources::secrets(), {{"metadata", {{"name", "bus-default-user"}, {"namespace", "ns"}}},
                                             {"data", {{"username", "dQ=="}, {"password", "cA=="}}}});
  cluster({{"replicas", 1}});
  ASSERT_TRUE(reconcile().ok());
  // Only the record of what the brokers were started with is new.
  ASSERT_EQ(client_->writesTo("secrets").size(), 1u);
  EXPECT_EQ(client_->writesTo("secrets")[0].name, "bus-default-user-applied");
  EXPECT_EQ(condition("Degraded")["status"], "False");
  EXPECT_EQ(condition("PasswordSynced")["reason"], "InEffect");
}

TEST_F(BrokerClusterReconcilerTest, CreatingFirstNeverReplacesSecretsTheMetadataCacheDoesNotShow) {
  // Unlabelled, so warren's Secret cache does not show them: the creates are refused and the Secrets read and kept.
  const json cookie = client_->seed(kube::resources::secrets(), {{"metadata", {{"name", "bus-erlang-cookie"}, {"namespace", "ns"}}},
                                                                 {"data", {{"cookie", "b2xkLWNvb2tpZS1vZi10aGUtcmV0YWluZWQtZGF0YQ=="}}}});
  const json user = client_->seed(kube::resources::secrets(), {{"metadata", {{"name", "bus-default-user"}, {"namespace", "ns"}}},
                                                               {"data", {{"username", "dQ=="}, {"password", "cA=="}}}});
  useSecretMetadataCache();
  cluster({{"replicas", 1}});
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(client_->stored(kube::resources::secrets(), "ns", "bus-erlang-cookie"), cookie);
  EXPECT_EQ(client_->stored(kube::resources::secrets(), "ns", "bus-default-user"), user);
  EXPECT_EQ(runtime::secretValue(client_->stored(kube::resources::secrets(), "ns", "bus-default-user-applied"), "username"), "u");
  EXPECT_EQ(condition("Degraded")["status"], "False");
  EXPECT_EQ(condition("PasswordSynced")["reason"], "InEffect");
}

// The users of a RabbitMQ cluster behind its management API: /api/whoami and /api/users/NAME.
class FakeUsers {
 public:
  std::map<std::string, std::string> passwords;
  int calls = 0;
  bool down = false;

  ManagementFactory factory() {
    return [this](const offload::ManagementAccess& access) -> std::unique_ptr<offload::ManagementTransport> {
      return std::make_unique<Transport>(this, access);
    };
  }

 private:
  class Transport : public offload::ManagementTransport {
   public:
    Transport(FakeUsers* users, offload::ManagementAccess access) : users_(users), access_(std::move(access)) {}
    Result<offload::HttpAnswer> send(const offload::HttpCall& call) override {
      ++users_->calls;
      if (users_->down) return Error::local("BrokerUnreachable", "connection refused");
      auto it = users_->passwords.find(access_.username);
      if (it == users_->passwords.end() || it->second != access_.password) return offload::HttpAnswer{401, ""};
      if (call.path == "/api/whoami") return offload::HttpAnswer{200, "{}"};
      const std::string user = call.path.substr(std::string("/api/users/").size());
      if (call.method == "GET") return offload::HttpAnswer{200, R"({"tags":["administrator"]})"};
      users_->passwords[user] = json::parse(call.body)["password"];
      return offload::HttpAnswer{204, ""};
    }

   private:
    FakeUsers* users_;
    offload::ManagementAccess access_;
  };
};

// A reconciler reaching `users`, and a running one-node cluster with its cookie.
void BrokerClusterReconcilerTest::runningClusterWith(FakeUsers& users) {
  reconciler_ = std::make_unique<BrokerClusterReconciler>(
      client_, informers_, std::make_shared<runtime::EventRecorder>(client_, "warren"),
      [](size_t n) { return std::string(n, 'r'); }, kDefaultSecretRecheck, users.factory());
  cluster({{"replicas", 1}});
  pod(0, true);
  client_->seed(kube::resources::secrets(), {{"metadata", {{"name", "bus-erlang-cookie"}, {"namespace", "ns"}}},
                                             {"data", {{"cookie", "b2xkLWNvb2tpZS1vZi10aGUtcmV0YWluZWQtZGF0YQ=="}}}});
}

TEST_F(BrokerClusterReconcilerTest, ARotatedPasswordIsAppliedToTheBrokersWithTheOneLastApplied) {
  FakeUsers users;
  runningClusterWith(users);
  json user = client_->seed(kube::resources::secrets(), {{"metadata", {{"name", "bus-default-user"}, {"namespace", "ns"}}},
                                                         {"data", {{"username", kube::base64Encode("admin")},
                                                                   {"password", kube::base64Encode("old-password")}}}});
  users.passwords["admin"] = "old-password";
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(condition("PasswordSynced")["reason"], "InEffect");
  EXPECT_EQ(users.calls, 0);

  user["data"]["password"] = kube::base64Encode("new-password");
  ASSERT_TRUE(client_->update(kube::resources::secrets(), "ns", user, {}).ok());
  resync();
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(users.passwords["admin"], "new-password");
  EXPECT_EQ(condition("PasswordSynced")["reason"], "InEffect");
  EXPECT_EQ(events("PasswordRotated"), 1u);
  const json applied = client_->stored(kube::resources::secrets(), "ns", "bus-default-user-applied");
  EXPECT_EQ(*kube::base64Decode(applied["data"]["password"].get<std::string>()), "new-password");
  // Nothing in status or Events carries either password.
  const std::string written = client_->stored(api::brokerClusters(), "ns", "bus").dump();
  EXPECT_EQ(written.find("new-password"), std::string::npos);
  for (const auto& call : client_->writesTo("events")) EXPECT_EQ(call.body.dump().find("password\":"), std::string::npos);

  // In line again: no management call.
  resync();
  users.calls = 0;
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(users.calls, 0);
}

TEST_F(BrokerClusterReconcilerTest, ARotationTheBrokersCannotTakeYetIsPendingAndRetriedSoon) {
  FakeUsers users;
  users.down = true;
  runningClusterWith(users);
  client_->seed(kube::resources::secrets(), {{"metadata", {{"name", "bus-default-user"}, {"namespace", "ns"}}},
                                             {"data", {{"username", kube::base64Encode("admin")},
                                                       {"password", kube::base64Encode("new-password")}}}});
  client_->seed(kube::resources::secrets(), {{"metadata", {{"name", "bus-default-user-applied"}, {"namespace", "ns"},
                                                           {"labels", {{api::kClusterLabel, "bus"}}}}},
                                             {"data", {{"username", kube::base64Encode("admin")},
                                                       {"password", kube::base64Encode("old-password")}}}});
  auto outcome = reconcile();
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(condition("PasswordSynced")["reason"], "BrokerUnreachable");
  ASSERT_TRUE(outcome->requeue_after.has_value());
  EXPECT_LE(*outcome->requeue_after, std::chrono::seconds(15));
  const json applied = client_->stored(kube::resources::secrets(), "ns", "bus-default-user-applied");
  EXPECT_EQ(*kube::base64Decode(applied["data"]["password"].get<std::string>()), "old-password");
}

TEST(PasswordSync, TheBrokersAcceptingNeitherPasswordIsReportedNotGuessed) {
  FakeUsers users;
  users.passwords["admin"] = "changed-by-hand";
  auto change = applyPassword(users.factory(), "http://bus.ns.svc:15672", {"admin", "old"}, {"admin", "new"});
  ASSERT_FALSE(change.ok());
  EXPECT_EQ(change.error().reason, "BrokersRejectCredentials");
  EXPECT_EQ(applyPassword(users.factory(), "u", {"admin", "old"}, {"root", "new"}).error().reason, "UsernameChanged");
  users.passwords["admin"] = "new";
  EXPECT_EQ(*applyPassword(users.factory(), "u", {"admin", "old"}, {"admin", "new"}), PasswordChange::kAlreadyInEffect);
}

TEST_F(BrokerClusterReconcilerTest, ACookieGoneWhileBrokersRunIsNeverRegenerated) {
  cluster({{"replicas", 1}});
  pod(0, true);
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(condition("Degraded")["reason"], "ErlangCookieMissing");
  EXPECT_EQ(condition("Degraded")["message"].get<std::string>().find("delete the StatefulSet"), std::string::npos);
  EXPECT_TRUE(client_->writesTo("secrets").empty());
  EXPECT_TRUE(client_->writesTo("statefulsets").empty());
}

TEST_F(BrokerClusterReconcilerTest, ScaleDownIsRefusedWithoutTheOptIn) {
  cluster({{"replicas", 3}});
  ASSERT_TRUE(reconcile().ok());
  cacheChildren();
  cluster({{"replicas", 1}});
  client_->clearCalls();
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(condition("ReconcileSuccess")["reason"], "ScaleDownRefused");
  EXPECT_EQ(client_->stored(kube::resources::statefulSets(), "ns", "bus-server")["spec"]["replicas"], 3);
  EXPECT_EQ(events("ScaleDownRefused"), 1u);
}

// Quorum queues behind the management API: their members, grow and shrink. With lag_shrink, the first shrink
// shows only from the second listing after it on, as the broker applies it asynchronously.
class FakeQueues {
 public:
  std::map<std::string, std::vector<std::string>> members;
  std::map<std::string, bool> cluster_nodes;  // GET /api/nodes: each member node and whether it runs
  bool lag_shrink = false;
  std::vector<std::string> calls;

  ManagementFactory factory() {
    return [this](const offload::ManagementAccess&) -> std::unique_ptr<offload::ManagementTransport> {
      return std::make_unique<Transport>(this);
    };
  }

 private:
  class Transport : public offload::ManagementTransport {
   public:
    explicit Transport(FakeQueues* queues) : q_(queues) {}
    Result<offload::HttpAnswer> send(const offload::HttpCall& call) override {
      q_->calls.push_back(call.method + " " + call.path);
      const std::string prefix = "/api/queues/quorum/replicas/on/";
      if (call.method == "GET" && call.path.rfind("/api/nodes", 0) == 0) {
        json list = json::array();
        for (const auto& [name, running] : q_->cluster_nodes) list.push_back({{"name", name}, {"running", running}});
        return offload::HttpAnswer{200, list.dump()};
      }
      if (call.method == "GET") {
        json list = json::array();
        for (const auto& [name, nodes] : q_->members) list.push_back({{"name", name}, {"vhost", "/"}, {"type", "quorum"}, {"members", nodes}});
        list.push_back({{"name", "classic"}, {"vhost", "/"}, {"type", "classic"}});
        if (!q_->pending_shrink.empty() && q_->pending_listings++ > 0) q_->apply();
        return offload::HttpAnswer{200, list.dump()};
      }
      std::string node = call.path.substr(prefix.size(), call.path.rfind('/') - prefix.size());
      if (const auto at = node.find("%40"); at != std::string::npos) node.replace(at, 3, "@");
      if (call.method == "POST") {
        for (auto& [name, nodes] : q_->members) {
          if (std::find(nodes.begin(), nodes.end(), node) == nodes.end()) nodes.push_back(node);
        }
        return offload::HttpAnswer{204, ""};
      }
      q_->pending_shrink.push_back(node);
      if (!q_->lag_shrink) q_->apply();
      q_->lag_shrink = false;
      return offload::HttpAnswer{202, ""};
    }

   private:
    FakeQueues* q_;
  };
  void apply() {
    for (const auto& node : pending_shrink) {
      for (auto& [name, nodes] : members) nodes.erase(std::remove(nodes.begin(), nodes.end(), node), nodes.end());
    }
    pending_shrink.clear();
    pending_listings = 0;
  }
  std::vector<std::string> pending_shrink;
  int pending_listings = 0;
};

TEST_F(BrokerClusterReconcilerTest, ScaleDownMovesQuorumQueueMembersOffTheDepartingNodesFirst) {
  FakeQueues queues;
  useManagement(queues.factory());
  cluster({{"replicas", 3}});
  ASSERT_TRUE(reconcile().ok());
  cacheChildren();
  for (int i = 0; i < 3; ++i) pod(i, true);
  const std::string n0 = nodeName(0), n1 = nodeName(1), n2 = nodeName(2);
  queues.members["orders"] = {n1, n2};
  queues.members["audit"] = {n0, n1, n2};
  queues.lag_shrink = true;

  cluster({{"replicas", 2}, {"allowScaleDown", true}});
  auto first = reconcile();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(condition("ReconcileSuccess")["reason"], "ScaleDownInProgress");
  EXPECT_THAT(condition("ReconcileSuccess")["message"].get<std::string>(), ::testing::HasSubstr("still has a member on " + n2));
  EXPECT_EQ(client_->stored(kube::resources::statefulSets(), "ns", "bus-server")["spec"]["replicas"], 3);
  ASSERT_TRUE(first->requeue_after.has_value());
  EXPECT_LE(*first->requeue_after, std::chrono::seconds(5));
  // Grown onto the remaining nodes before the departing one was shrunk.
  EXPECT_EQ(queues.members["orders"], (std::vector<std::string>{n1, n2, n0}));

  // The departing node is recorded in status before the StatefulSet shrinks.
  resync();
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(client_->stored(kube::resources::statefulSets(), "ns", "bus-server")["spec"]["replicas"], 3);
  EXPECT_EQ(client_->stored(api::brokerClusters(), "ns", "bus")["status"]["departedNodes"], json::array({n2}));

  resync();
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(client_->stored(kube::resources::statefulSets(), "ns", "bus-server")["spec"]["replicas"], 2);
  EXPECT_EQ(condition("ReconcileSuccess")["reason"], "Success");
  EXPECT_EQ(events("ScaleDownPrepared"), 1u);
  EXPECT_EQ(queues.members["orders"], (std::vector<std::string>{n1, n0}));
  EXPECT_EQ(queues.members["audit"], (std::vector<std::string>{n0, n1}));
}

// After the StatefulSet shrank: once the departed pod is gone, a Job makes the cluster forget the node;
// when the brokers no longer list it, the Job goes and status.departedNodes is cleared.
TEST_F(BrokerClusterReconcilerTest, DepartedNodesAreForgottenThroughAJobOnceTheirPodsAreGone) {
  FakeQueues queues;
  const std::string n0 = nodeName(0), n1 = nodeName(1), n2 = nodeName(2);
  ASSERT_NO_FATAL_FAILURE(reconciledWithTwoNodes(queues.factory()));
  cluster({{"replicas", 2}, {"allowScaleDown", true}}, {{"departedNodes", {n2}}});
  for (int i = 0; i < 3; ++i) pod(i, true);
  queues.cluster_nodes = {{n0, true}, {n1, true}, {n2, true}};

  auto waiting = reconcile();
  ASSERT_TRUE(waiting.ok());
  EXPECT_EQ(condition("ReconcileSuccess")["reason"], "ForgettingDepartedNodes");
  EXPECT_THAT(condition("ReconcileSuccess")["message"].get<std::string>(), ::testing::HasSubstr("pod bus-server-2 to stop"));
  ASSERT_TRUE(waiting->requeue_after.has_value());
  EXPECT_TRUE(client_->stored(kube::resources::jobs(), "ns", "bus-forget-nodes").is_null());

  // The pod is gone and the node stopped: the Job forgets it through a Ready member.
  informers_.pods->apply({runtime::WatcherEvent::Type::kDelete, {{"metadata", {{"name", "bus-server-2"}, {"namespace", "ns"}}}}});
  queues.cluster_nodes[n2] = false;
  resync();
  ASSERT_TRUE(reconcile().ok());
  const json job = client_->stored(kube::resources::jobs(), "ns", "bus-forget-nodes");
  ASSERT_TRUE(job.is_object());
  EXPECT_TRUE(runtime::isControlledBy(job, client_->stored(api::brokerClusters(), "ns", "bus")["metadata"]["uid"]));
  const json command = job["spec"]["template"]["spec"]["containers"][0]["command"];
  EXPECT_EQ(command[command.size() - 2], n0);  // through
  EXPECT_EQ(command.back(), n2);
  EXPECT_EQ(job["spec"]["template"]["spec"]["subdomain"], "bus-nodes");
  EXPECT_FALSE(job["spec"]["template"]["metadata"]["labels"].contains(api::kClusterLabel));  // never taken for a broker
  EXPECT_EQ(condition("ReconcileSuccess")["reason"], "ForgettingDepartedNodes");
  EXPECT_EQ(events("ForgettingDepartedNodes"), 1u);

  // Still running: no second Job.
  resync();
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(client_->writesTo("jobs").size(), 1u);

  // Forgotten: the Job goes, status says nothing is owed, and the cluster is left alone afterwards.
  queues.cluster_nodes.erase(n2);
  resync();
  ASSERT_TRUE(reconcile().ok());
  EXPECT_TRUE(client_->stored(kube::resources::jobs(), "ns", "bus-forget-nodes").is_null());
  EXPECT_FALSE(client_->stored(api::brokerClusters(), "ns", "bus")["status"].contains("departedNodes"));
  EXPECT_EQ(condition("ReconcileSuccess")["reason"], "Success");
  EXPECT_EQ(events("DepartedNodesForgotten"), 1u);
  resync();
  const size_t calls = queues.calls.size();
  client_->clearCalls();
  ASSERT_TRUE(reconcile().ok());
  EXPECT_TRUE(client_->writes().empty());
  EXPECT_EQ(queues.calls.size(), calls);
}

TEST_F(BrokerClusterReconcilerTest, AScaleUpWaitsUntilDepartedNodesAreForgottenAndATakenBackScaleDownOwesNothing) {
  FakeQueues queues;
  const std::string n0 = nodeName(0), n1 = nodeName(1), n2 = nodeName(2);
  ASSERT_NO_FATAL_FAILURE(reconciledWithTwoNodes(queues.factory()));
  for (int i = 0; i < 2; ++i) pod(i, true);
  queues.cluster_nodes = {{n0, true}, {n1, true}, {n2, false}};

  // Scaled up again before n2 was forgotten: the StatefulSet stays at 2, the forget goes on.
  cluster({{"replicas", 3}, {"allowScaleDown", true}}, {{"departedNodes", {n2}}});
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(client_->stored(kube::resources::statefulSets(), "ns", "bus-server")["spec"]["replicas"], 2);
  EXPECT_TRUE(client_->stored(kube::resources::jobs(), "ns", "bus-forget-nodes").is_object());

  // A scale-down recorded but taken back before the StatefulSet shrank: its node is a member still.
  client_->erase(kube::resources::jobs(), "ns", "bus-forget-nodes");
  cluster({{"replicas", 2}, {"allowScaleDown", true}}, {{"departedNodes", {n1}}});
  ASSERT_TRUE(reconcile().ok());
  EXPECT_FALSE(client_->stored(api::brokerClusters(), "ns", "bus")["status"].contains("departedNodes"));
  EXPECT_TRUE(client_->stored(kube::resources::jobs(), "ns", "bus-forget-nodes").is_null());
}

TEST(ScaleDown, TheBrokersRefusingIsAnErrorNotAGo) {
  ManagementFactory refusing = [](const offload::ManagementAccess&) -> std::unique_ptr<offload::ManagementTransport> {
    struct Refuse : offload::ManagementTransport {
      Result<offload::HttpAnswer> send(const offload::HttpCall&) override { return offload::HttpAnswer{401, ""}; }
    };
    return std::make_unique<Refuse>();
  };
  auto check = prepareScaleDown(refusing, "http://bus.ns.svc:15672", {"admin", "pw"}, {"rabbit@b-2"}, {"rabbit@b-0"});
  ASSERT_FALSE(check.ok());
  EXPECT_EQ(check.error().reason, "BrokerRefused");
}

TEST_F(BrokerClusterReconcilerTest, AServiceOfSomeoneElseUnderAChildsNameIsReportedNotTakenOver) {
  const json theirs = client_->seed(kube::resources::services(),
                                    {{"metadata", {{"name", "bus"}, {"namespace", "ns"}}}, {"spec", {{"ports", {{{"port", 80}}}}}}});
  cluster({{"replicas", 1}});
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(condition("ReconcileSuccess")["reason"], "NotOwned");
  EXPECT_NE(condition("ReconcileSuccess")["message"].get<std::string>().find("Service ns/bus"), std::string::npos);
  EXPECT_EQ(client_->stored(kube::resources::services(), "ns", "bus"), theirs);
}

TEST_F(BrokerClusterReconcilerTest, ChildrenTheServerRefusesAreReportedAndOtherFailuresRetriedAndReported) {
  // Found by the fuzz campaign: tolerations the schema lets through but a StatefulSet cannot hold make
  // server-side apply answer 500 "failed to create typed patch object"; it was retried forever, unreported.
  cluster({{"replicas", 1}});
  client_->failNext("apply", "statefulsets",
                    Error{500, "InternalError", "failed to create typed patch object (ns/bus-server): .spec.template.spec."
                                                "tolerations[0].key: expected string"});
  auto outcome = reconcile();
  ASSERT_TRUE(outcome.ok()) << "content the server refuses is not retried";
  EXPECT_EQ(condition("ReconcileSuccess")["reason"], "ChildRejected");
  resync();
  client_->failNext("apply", "statefulsets", Error{503, "ServiceUnavailable", "try later"});
  auto transient = reconcile();
  ASSERT_FALSE(transient.ok()) << "a transient failure is retried";
  EXPECT_EQ(condition("ReconcileSuccess")["reason"], "ChildApplyFailed") << "and said in status meanwhile";
}

TEST_F(BrokerClusterReconcilerTest, NoHealthyNodeKeepsTheActiveNodeAndSaysSo) {
  cluster({{"replicas", 2}, {"failover", {{"unhealthyAfterSeconds", 1}}}},
          {{"activeNode", "rabbit@bus-server-0.bus-nodes.ns"}});
  pod(0, false);
  pod(1, false);
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(condition("NoHealthyNode")["status"], "True");
  EXPECT_EQ(client_->stored(api::brokerClusters(), "ns", "bus")["status"]["activeNode"], "rabbit@bus-server-0.bus-nodes.ns");
}

TEST_F(BrokerClusterReconcilerTest, QuorumAtRiskSaysWhetherQuorumQueuesSurviveLosingANode) {
  cluster({{"replicas", 2}});
  pod(0, true);
  pod(1, true);
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(condition("QuorumAtRisk")["status"], "True") << "two nodes never survive a loss with a majority";
  EXPECT_EQ(condition("QuorumAtRisk")["reason"], "TooFewReplicas");

  cluster({{"replicas", 3}});  // scaled up
  pod(2, true);
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(condition("QuorumAtRisk")["status"], "False");
  EXPECT_EQ(condition("QuorumAtRisk")["reason"], "MajoritySurvivesOneLoss");

  pod(2, false);
  resync();
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(condition("QuorumAtRisk")["status"], "True") << "2 of 3 ready: one more loss breaks the majority";
  EXPECT_EQ(condition("QuorumAtRisk")["reason"], "NodesDown");
}

TEST_F(BrokerClusterReconcilerTest, AFailoverDecidedTwiceOnAStaleCacheIsWrittenAndAnnouncedOnce) {
  cluster({{"replicas", 2}, {"failover", {{"unhealthyAfterSeconds", 1}}}},
          {{"activeNode", "rabbit@bus-server-0.bus-nodes.ns"}, {"endpoints", {{"mqtt", "bus.ns.svc:1883"}}}});
  pod(0, false);
  pod(1, true);
  ASSERT_TRUE(reconcile().ok());
  const json status = client_->stored(api::brokerClusters(), "ns", "bus")["status"];
  EXPECT_EQ(status["activeNode"], "rabbit@bus-server-1.bus-nodes.ns");
  EXPECT_NE(status["lastFailover"]["time"].get<std::string>().find('.'), std::string::npos) << "sub-second instant";
  EXPECT_FALSE(status["endpoints"].contains("mqtt")) << "a field no longer set is removed";
  auto again = reconcile();  // the cache still says node 0 is active
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.error().isConflict());
  EXPECT_EQ(events("Rerouted"), 1u);
  resync();
  ASSERT_TRUE(reconcile().ok());
  EXPECT_EQ(events("Rerouted"), 1u);
}

}  // namespace
}  // namespace warren::controllers
