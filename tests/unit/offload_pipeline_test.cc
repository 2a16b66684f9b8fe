// OffloadPipeline: the typed API and every bad spec value, the management
// API calls and topology declaration against an in-memory broker, the
// children's builders, and the reconciler on an in-memory API server with
// fake backends (the real ones run in tests/offload's pipeline test).
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "api/broker_cluster.h"
#include "builders/offload_pipeline_children.h"
#include "cache_support.h"
#include "controllers/offload_pipeline_controller.h"
#include "fake_client.h"
#include "kube/tls_material.h"
#include "offload/broker_management.h"
#include "runtime/object_helpers.h"

namespace warren {
namespace {

using json = nlohmann::json;

json validSpec() {
  return json::parse(R"({
    "brokerClusterRef": {"name": "bus"},
    "storage": {"endpoint": "http://s3.storage:7070", "bucket": "payloads",
                "credentialsSecretRef": {"name": "s3-keys"}},
    "database": {"uriSecretRef": {"name": "ledger-db"}},
    "recipients": ["billing", "archive"]})");
}

json pipelineObject(const json& spec, const std::string& name = "orders") {
  json object = {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "OffloadPipeline"},
                 {"metadata", {{"name", name}, {"namespace", "shop"}, {"uid", "uid-orders"}, {"generation", 1}}}};
  if (!spec.is_discarded()) object["spec"] = spec;
  return object;
}

TEST(OffloadPipelineApi, ParsesAValidSpecWithItsDefaults) {
  auto parsed = api::parseOffloadPipeline(pipelineObject(validSpec()));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->clusterNamespace(), "shop");
  EXPECT_EQ(parsed->spec.storage.region, "us-east-1");
  EXPECT_EQ(parsed->spec.storage.access_key_id_key, "AWS_ACCESS_KEY_ID");
  EXPECT_EQ(parsed->spec.database.uri.key, "uri");
  EXPECT_EQ(parsed->spec.coordinator.replicas, 2);
  EXPECT_EQ(parsed->spec.object_ttl_seconds, std::chrono::hours(24));
  EXPECT_EQ(parsed->spec.deletion_policy, api::DeletionPolicy::kRetain);
  EXPECT_EQ(parsed->topologyName(), "shop.orders");
  EXPECT_EQ(parsed->ledgerSchema(), "warren_shop_orders");
}

TEST(OffloadPipelineApi, ALongLedgerSchemaIsShortenedStably) {
  auto parsed = api::parseOffloadPipeline(pipelineObject(validSpec(), std::string(60, 'a')));
  ASSERT_TRUE(parsed.ok());
  const std::string schema = parsed->ledgerSchema();
  EXPECT_EQ(schema.size(), 63u);
  EXPECT_TRUE(api::isPostgresIdentifier(schema)) << schema;
  EXPECT_EQ(schema, api::parseOffloadPipeline(pipelineObject(validSpec(), std::string(60, 'a')))->ledgerSchema());
}

TEST(OffloadPipelineApi, EveryBadValueIsAnErrorNamingItsField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/brokerClusterRef", "spec.brokerClusterRef"},
      {"/storage", "spec.storage"},
      {"/storage/endpoint", "spec.storage.endpoint"},
      {"/storage/credentialsSecretRef", "spec.storage.credentialsSecretRef"},
      {"/database", "spec.database"},
      {"/database/uriSecretRef", "spec.database.uriSecretRef"},
      {"/recipients", "spec.recipients"}};
  for (const auto& [pointer, field] : cases) {
    json spec = validSpec();
    const json::json_pointer at(pointer);
    spec[at.parent_pointer()].erase(at.back());
    auto parsed = api::parseOffloadPipeline(pipelineObject(spec));
    ASSERT_FALSE(parsed.ok()) << pointer;
    EXPECT_EQ(parsed.error().reason, "InvalidSpec");
    EXPECT_EQ(parsed.error().message.rfind(field, 0), 0u) << parsed.error().message;
  }
  const std::vector<std::tuple<std::string, json, std::string>> values = {
      {"/storage/endpoint", "s3.example.com", "spec.storage.endpoint"},
      {"/storage/endpoint", 7, "spec.storage.endpoint"},
      {"/storage/bucket", "No_Such", "spec.storage.bucket"},
      {"/storage/pathStyle", false, "spec.storage.pathStyle"},
      {"/storage/region", "", "spec.storage.region"},
      {"/storage/createBucket", "yes", "spec.storage.createBucket"},
      {"/storage/caSecretRef", json::object(), "spec.storage.caSecretRef.name"},
      {"/database/schema", "Bad-Schema", "spec.database.schema"},
      {"/database/uriSecretRef/name", "", "spec.database.uriSecretRef.name"},
      {"/recipients", json::array(), "spec.recipients"},
      {"/recipients", "billing", "spec.recipients"},
      {"/recipients", json::array({"billing", "billing"}), "spec.recipients[1]"},
      {"/recipients", json::array({"Billing"}), "spec.recipients[0]"},
      {"/recipients", json::array({1}), "spec.recipients[0]"},
      {"/inlineThresholdBytes", -1, "spec.inlineThresholdBytes"},
      {"/inlineThresholdBytes", "64k", "spec.inlineThresholdBytes"},
      {"/compression", "zstd", "spec.compression"},
      {"/objectTTL", "1 day", "spec.objectTTL"},
      {"/objectTTL", "0s", "spec.objectTTL"},
      {"/expiryPolicy", "Ignore", "spec.expiryPolicy"},
      {"/orphanPolicy", 1, "spec.orphanPolicy"},
      {"/coordinator", "big", "spec.coordinator"},
      {"/coordinator/replicas", 11, "spec.coordinator.replicas"},
      {"/coordinator/resources", "1Gi", "spec.coordinator.resources"},
      {"/binding/includeCredentials", "true", "spec.binding.includeCredentials"},
      {"/deletionPolicy", "Orphan", "spec.deletionPolicy"}};
  for (const auto& [pointer, value, field] : values) {
    json spec = validSpec();
    spec[json::json_pointer(pointer)] = value;
    auto parsed = api::parseOffloadPipeline(pipelineObject(spec));
    ASSERT_FALSE(parsed.ok()) << pointer << " = " << value.dump();
    EXPECT_EQ(parsed.error().message.rfind(field, 0), 0u) << parsed.error().message;
  }
  for (const json& spec : {json(json::value_t::discarded), json(nullptr), json("spec"), json::array()}) {
    EXPECT_FALSE(api::parseOffloadPipeline(pipelineObject(spec)).ok()) << spec.dump();
  }
  EXPECT_FALSE(api::parseOffloadPipeline(pipelineObject(validSpec(), std::string(96, 'a'))).ok());
}

// A RabbitMQ management API in memory: exchanges, queues and bindings.
class FakeBroker : public offload::ManagementTransport {
 public:
  Result<offload::HttpAnswer> send(const offload::HttpCall& call) override {
    calls.push_back(call);
    if (down) return Error::local("BrokerUnreachable", "connection refused");
    const std::string& path = call.path;
    auto name = [&](const std::string& prefix) { return path.substr(prefix.size()); };
    const std::string ex = "/api/exchanges/%2F/", q = "/api/queues/%2F/", b = "/api/bindings/%2F/e/";
    if (call.method == "GET" && path == "/api/queues/%2F?columns=name") {
      json list = json::array();
      for (const auto& [n, _] : queues) list.push_back({{"name", n}});
      return offload::HttpAnswer{200, list.dump()};
    }
    if (path.rfind(b, 0) == 0) {
      const std::string rest = name(b);
      const auto split = rest.find("/q/");
      const std::string exchange = rest.substr(0, split);
      std::string queue = rest.substr(split + 3);
      const auto slash = queue.find('/');
      if (slash != std::string::npos) queue = queue.substr(0, slash);
      const auto key = std::make_pair(exchange, queue);
      if (call.method == "GET") {
        return offload::HttpAnswer{200, bindings.count(key) ? json::array({{{"properties_key", "~"}}}).dump() : "[]"};
      }
      if (call.method == "POST") bindings.insert(key);
      if (call.method == "DELETE") bindings.erase(key);
      return offload::HttpAnswer{201, ""};
    }
    if (path.rfind(ex, 0) == 0 && path.size() > 16 && path.substr(path.size() - 16) == "/bindings/source") {
      const std::string exchange = name(ex).substr(0, name(ex).size() - 16);
      json list = json::array();
      for (const auto& [e, queue] : bindings) {
        if (e == exchange) list.push_back({{"destination", queue}, {"destination_type", "queue"}, {"properties_key", "~"}});
      }
      return offload::HttpAnswer{200, list.dump()};
    }
    auto& table = path.rfind(ex, 0) == 0 ? exchanges : queues;
    const std::string key = name(path.rfind(ex, 0) == 0 ? ex : q);
    if (call.method == "GET") {
      return table.count(key) ? offload::HttpAnswer{200, table[key].dump()} : offload::HttpAnswer{404, R"({"reason":"Not Found"})"};
    }
    if (call.method == "PUT") table[key] = json::parse(call.body);
    if (call.method == "DELETE") {
      if (!table.erase(key)) return offload::HttpAnswer{404, ""};
    }
    return offload::HttpAnswer{201, ""};
  }
  int writes() const {
    int n = 0;
    for (const auto& call : calls) n += call.method != "GET";
    return n;
  }

  bool down = false;
  std::vector<offload::HttpCall> calls;
  std::map<std::string, json> exchanges, queues;
  std::set<std::pair<std::string, std::string>> bindings;
};

TEST(OffloadTopology, CallsAreBuiltWithEncodedNamesAndTheProgramsArguments) {
  const offload::Topology topology("shop.orders");
  EXPECT_EQ(offload::management::getQueue("/", "shop.orders.acks").path, "/api/queues/%2F/shop.orders.acks");
  const auto put = offload::management::putQueue("/", topology.queue(topology.ackQueue()));
  EXPECT_EQ(put.method, "PUT");
  EXPECT_EQ(json::parse(put.body)["arguments"],
            json({{"x-queue-type", "quorum"}, {"x-dead-letter-exchange", "shop.orders.dead-letter"}, {"x-delivery-limit", 20}}));
  EXPECT_EQ(offload::management::postBinding("vh/1", "a b", "q").path, "/api/bindings/vh%2F1/e/a%20b/q/q");
}

TEST(OffloadTopology, DeclaresWhatIsMissingOnceAndThenOnlyReads) {
  FakeBroker broker;
  const offload::Topology topology("shop.orders");
  auto first = offload::ensureTopology(broker, topology, {"archive", "billing"});
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(broker.exchanges.size(), 2u);
  EXPECT_EQ(broker.queues.size(), 5u);  // dead-letter, acks, ledger, two recipients
  EXPECT_EQ(broker.bindings.size(), 4u);
  broker.calls.clear();
  auto second = offload::ensureTopology(broker, topology, {"archive", "billing"});
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->created.empty());
  EXPECT_EQ(broker.writes(), 0);
}

TEST(OffloadTopology, ARemovedRecipientIsUnboundAndItsQueueKept) {
  FakeBroker broker;
  const offload::Topology topology("shop.orders");
  ASSERT_TRUE(offload::ensureTopology(broker, topology, {"archive", "billing"}).ok());
  auto changed = offload::ensureTopology(broker, topology, {"billing", "audit"});
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->unbound, std::vector<std::string>{"shop.orders.recipient.archive"});
  EXPECT_EQ(broker.queues.count("shop.orders.recipient.archive"), 1u);
  EXPECT_EQ(broker.bindings.count({"shop.orders.pointers", "shop.orders.recipient.archive"}), 0u);
  EXPECT_EQ(broker.bindings.count({"shop.orders.pointers", "shop.orders.recipient.audit"}), 1u);
}

TEST(OffloadTopology, AQueueWithOtherArgumentsIsAConflictNeverReplaced) {
  FakeBroker broker;
  broker.queues["shop.orders.acks"] = {{"arguments", {{"x-queue-type", "classic"}}}};
  auto declared = offload::ensureTopology(broker, offload::Topology("shop.orders"), {"billing"});
  ASSERT_FALSE(declared.ok());
  EXPECT_EQ(declared.error().reason, "TopologyConflict");
  EXPECT_NE(declared.error().message.find("queue shop.orders.acks exists with"), std::string::npos);
  EXPECT_EQ(broker.queues["shop.orders.acks"]["arguments"]["x-queue-type"], "classic");
}

TEST(OffloadTopology, AnAnswerOfAnotherShapeIsAnErrorNotACrash) {
  FakeBroker broker;
  broker.exchanges["shop.orders.pointers"] = json::array({1, 2});
  auto declared = offload::ensureTopology(broker, offload::Topology("shop.orders"), {"billing"});
  ASSERT_FALSE(declared.ok());
  EXPECT_EQ(declared.error().reason, "BrokerRefused");
  broker.exchanges["shop.orders.pointers"] = {{"type", "fanout"}, {"durable", "yes"}};
  EXPECT_FALSE(offload::ensureTopology(broker, offload::Topology("shop.orders"), {"billing"}).ok());
}

TEST(OffloadTopology, RemovalDeletesEveryQueueOfThePipelineOnly) {
  FakeBroker broker;
  const offload::Topology topology("shop.orders");
  ASSERT_TRUE(offload::ensureTopology(broker, topology, {"archive"}).ok());
  ASSERT_TRUE(offload::ensureTopology(broker, topology, {"billing"}).ok());  // archive unbound, kept
  broker.queues["shop.other.acks"] = json::object();
  ASSERT_TRUE(offload::removeTopology(broker, topology).ok());
  EXPECT_EQ(broker.queues.size(), 1u);
  EXPECT_EQ(broker.queues.count("shop.other.acks"), 1u);
  EXPECT_TRUE(broker.exchanges.empty());
  broker.down = true;
  EXPECT_EQ(offload::removeTopology(broker, topology).error().reason, "BrokerUnreachable");
}

TEST(OffloadPipelineBuilders, TheBindingSecretHoldsCredentialsOnlyWhenAsked) {
  auto pipeline = api::parseOffloadPipeline(pipelineObject(validSpec()));
  ASSERT_TRUE(pipeline.ok());
  const json owner = pipelineObject(validSpec());
  builders::PipelineEndpoints endpoints{"bus.shop.svc", 5672, "user", "p@ss/word", "AKID", "SECRET", "postgresql://x"};
  auto keys = [](const json& secret) {
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : secret["data"].items()) out[k] = *kube::base64Decode(v.get<std::string>());
    return out;
  };
  auto without = keys(builders::buildBindingSecret(owner, *pipeline, endpoints));
  EXPECT_EQ(without["type"], "offload-pipeline");
  EXPECT_EQ(without["exchange"], "shop.orders.pointers");
  EXPECT_EQ(without["WARREN_OFFLOAD_RECIPIENTS"], "billing,archive");
  EXPECT_EQ(without["uri"], "amqp://bus.shop.svc:5672/");
  for (const char* secret : {"password", "username", "AWS_SECRET_ACCESS_KEY", "WARREN_AMQP_URI"}) {
    EXPECT_EQ(without.count(secret), 0u) << secret;
  }
  pipeline->spec.binding_includes_credentials = true;
  auto with = keys(builders::buildBindingSecret(owner, *pipeline, endpoints));
  EXPECT_EQ(with["WARREN_AMQP_URI"], "amqp://user:p%40ss%2Fword@bus.shop.svc:5672/");
  EXPECT_EQ(with["AWS_SECRET_ACCESS_KEY"], "SECRET");
  auto config = keys(builders::buildCoordinatorConfigSecret(owner, *pipeline, endpoints));
  EXPECT_EQ(config["WARREN_OFFLOAD_DATABASE_URI"], "postgresql://x");
  EXPECT_EQ(config["WARREN_OFFLOAD_PIPELINE"], "shop.orders");
}

TEST(OffloadPipelineBuilders, TheCoordinatorIsRestrictedAndRolledByItsConfig) {
  json spec = validSpec();
  spec["storage"]["caSecretRef"] = {{"name", "s3-ca"}};
  auto pipeline = api::parseOffloadPipeline(pipelineObject(spec));
  ASSERT_TRUE(pipeline.ok());
  const json deployment = builders::buildCoordinatorDeployment(pipelineObject(spec), *pipeline, "img:1", "abc");
  EXPECT_EQ(deployment["spec"]["replicas"], 2);
  EXPECT_EQ(deployment["spec"]["template"]["metadata"]["annotations"]["warren.dev/config-checksum"], "abc");
  const json& pod = deployment["spec"]["template"]["spec"];
  EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);
  const json& container = pod["containers"][0];
  EXPECT_EQ(container["securityContext"]["readOnlyRootFilesystem"], true);
  EXPECT_EQ(container["envFrom"][0]["secretRef"]["name"], "orders-coordinator-config");
  EXPECT_EQ(pod["volumes"][0]["secret"]["secretName"], "s3-ca");
  EXPECT_EQ(deployment["metadata"]["ownerReferences"][0]["uid"], "uid-orders");
}

// Backends whose answers a test sets; counts the calls.
class FakeBackends : public controllers::OffloadBackends {
 public:
  Result<bool> checkStorage(const offload::S3Config& config, const std::string&, bool) override {
    last_s3 = config;
    ++storage_checks;
    if (storage_error) return *storage_error;
    return false;
  }
  Result<controllers::LedgerCheck> checkDatabase(const std::string& uri, const std::string&) override {
    last_uri = uri;
    if (database_error) return *database_error;
    controllers::LedgerCheck check;
    check.schema_version = 1;
    check.stats.outstanding = outstanding;
    return check;
  }
  Result<offload::TopologyReport> ensureTopology(const offload::ManagementAccess& access, const offload::Topology&,
                                                 const std::vector<std::string>&) override {
    last_access = access;
    if (broker_error) return *broker_error;
    return offload::TopologyReport{};
  }
  Status removeTopology(const offload::ManagementAccess&, const offload::Topology&) override {
    ++removals;
    if (broker_error) return *broker_error;
    return okStatus();
  }
  Status removeObjects(const offload::S3Config&, const std::string&, const std::string& prefix) override {
    removed_prefix = prefix;
    return okStatus();
  }
  Status dropLedger(const std::string&, const std::string& schema) override {
    dropped_schema = schema;
    return okStatus();
  }

  std::optional<Error> storage_error, database_error, broker_error;
  long long outstanding = 0;
  int storage_checks = 0, removals = 0;
  offload::S3Config last_s3;
  offload::ManagementAccess last_access;
  std::string last_uri, removed_prefix, dropped_schema;
};

std::string b64(const std::string& text) { return kube::base64Encode(text); }

class OffloadPipelineReconcilerTest : public ::testing::Test {
 protected:
  OffloadPipelineReconcilerTest()
      : client_(std::make_shared<testing::FakeClient>()),
        backends_(std::make_shared<FakeBackends>()),
        pipelines_(testing::emptyCache(api::offloadPipelines())),
        clusters_(testing::emptyCache(api::brokerClusters())),
        deployments_(testing::emptyCache(kube::resources::deployments())),
        reconciler_(client_, pipelines_, clusters_, deployments_, backends_,
                    std::make_shared<runtime::EventRecorder>(client_, "test")) {
    testing::cacheObject(*clusters_, client_->seed(api::brokerClusters(), json::parse(R"({
        "metadata": {"name": "bus", "namespace": "shop"}, "spec": {}})")));
    secret("bus-default-user", {{"username", b64("warren-user")}, {"password", b64("cluster-password")}});
    secret("s3-keys", {{"AWS_ACCESS_KEY_ID", b64("AKID")}, {"AWS_SECRET_ACCESS_KEY", b64("s3-secret")}});
    secret("ledger-db", {{"uri", b64("postgresql://ledger:pw@db/ledger")}});
  }
  void secret(const std::string& name, const json& data) {
    client_->seed(kube::resources::secrets(), {{"metadata", {{"name", name}, {"namespace", "shop"}}}, {"data", data}});
  }
  json pipeline(const json& spec, bool with_finalizer = true) {
    json object = pipelineObject(spec);
    if (with_finalizer) object["metadata"]["finalizers"] = json::array({api::kOffloadFinalizer});
    const json stored = client_->seed(api::offloadPipelines(), object);
    testing::cacheObject(*pipelines_, stored);
    return stored;
  }
  // The stored object into the cache, as its watch event would bring it.
  void refresh() { testing::cacheObject(*pipelines_, stored()); }
  json stored() { return client_->stored(api::offloadPipelines(), "shop", "orders"); }
  json condition(const std::string& type) {
    const json object = stored();
    const json* c = runtime::findCondition(object["status"]["conditions"], type);
    return c ? *c : json();
  }

  std::shared_ptr<testing::FakeClient> client_;
  std::shared_ptr<FakeBackends> backends_;
  std::shared_ptr<runtime::Informer> pipelines_, clusters_, deployments_;
  controllers::OffloadPipelineReconciler reconciler_;
};

TEST_F(OffloadPipelineReconcilerTest, AMalformedSpecIsReportedAndNothingElseWritten) {
  for (const json& spec : {json(json::value_t::discarded), json(nullptr), json{{"recipients", "a"}}}) {
    pipeline(spec, false);
    client_->clearCalls();
    ASSERT_TRUE(reconciler_.reconcile({"shop", "orders"}).ok());
    EXPECT_EQ(condition("Ready")["reason"], "InvalidSpec") << spec.dump();
    EXPECT_EQ(client_->writes().size(), 1u);
    EXPECT_EQ(backends_->storage_checks, 0);
  }
}

TEST_F(OffloadPipelineReconcilerTest, TheFinalizerComesFirst) {
  pipeline(validSpec(), false);
  auto outcome = reconciler_.reconcile({"shop", "orders"});
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_TRUE(runtime::hasFinalizer(stored(), api::kOffloadFinalizer));
  EXPECT_EQ(backends_->storage_checks, 0);
}

TEST_F(OffloadPipelineReconcilerTest, ConfiguresEverythingAndIsReadyOnceACoordinatorIsAvailable) {
  pipeline(validSpec());
  auto outcome = reconciler_.reconcile({"shop", "orders"});
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(backends_->last_s3.access_key, "AKID");
  EXPECT_EQ(backends_->last_uri, "postgresql://ledger:pw@db/ledger");
  EXPECT_EQ(backends_->last_access.url, "http://bus.shop.svc:15672");
  EXPECT_EQ(backends_->last_access.password, "cluster-password");
  for (const char* type : {"StorageReady", "DatabaseReady", "TopologyReady"}) EXPECT_EQ(condition(type)["status"], "True") << type;
  EXPECT_EQ(condition("CoordinatorAvailable")["reason"], "NoReplicaAvailable");
  EXPECT_EQ(condition("Ready")["reason"], "CoordinatorUnavailable");
  const json status = stored()["status"];
  EXPECT_EQ(status["recipientQueues"], json({"shop.orders.recipient.billing", "shop.orders.recipient.archive"}));
  EXPECT_EQ(status["bindingSecretName"], "orders-binding");
  EXPECT_FALSE(client_->stored(kube::resources::secrets(), "shop", "orders-binding").is_null());
  json deployment = client_->stored(kube::resources::deployments(), "shop", "orders-coordinator");
  ASSERT_FALSE(deployment.is_null());

  // The coordinator becomes available: Ready; then a reconcile in steady state writes nothing.
  deployment["status"] = {{"availableReplicas", 2}};
  testing::cacheObject(*deployments_, deployment);
  refresh();
  ASSERT_TRUE(reconciler_.reconcile({"shop", "orders"}).ok());
  EXPECT_EQ(condition("Ready")["status"], "True");
  refresh();
  client_->clearCalls();
  auto steady = reconciler_.reconcile({"shop", "orders"});
  ASSERT_TRUE(steady.ok());
  EXPECT_TRUE(client_->writes().empty());
  ASSERT_TRUE(steady->requeue_after.has_value());
}

TEST_F(OffloadPipelineReconcilerTest, EachDependencyIsReportedInItsOwnCondition) {
  pipeline(validSpec());
  backends_->storage_error = Error::local("AccessDenied", "HEAD bucket payloads: InvalidAccessKeyId");
  backends_->broker_error = Error::local("BrokerUnreachable", "management API: connection refused");
  ASSERT_TRUE(reconciler_.reconcile({"shop", "orders"}).ok());
  EXPECT_EQ(condition("StorageReady")["reason"], "AccessDenied");
  EXPECT_NE(condition("StorageReady")["message"].get<std::string>().find("s3-keys"), std::string::npos);
  EXPECT_EQ(condition("DatabaseReady")["status"], "True");
  EXPECT_EQ(condition("TopologyReady")["reason"], "BrokerUnreachable");
  EXPECT_EQ(condition("Ready")["reason"], "StorageNotReady");
}

TEST_F(OffloadPipelineReconcilerTest, AMissingSecretIsNamedAndNoSecretValueIsEverInStatus) {
  client_->erase(kube::resources::secrets(), "shop", "ledger-db");
  pipeline(validSpec());
  ASSERT_TRUE(reconciler_.reconcile({"shop", "orders"}).ok());
  EXPECT_EQ(condition("DatabaseReady")["reason"], "CredentialsMissing");
  EXPECT_NE(condition("DatabaseReady")["message"].get<std::string>().find("ledger-db"), std::string::npos);
  EXPECT_TRUE(client_->stored(kube::resources::deployments(), "shop", "orders-coordinator").is_null());
  const std::string status = stored()["status"].dump();
  for (const char* secret : {"s3-secret", "cluster-password", "AKID"}) EXPECT_EQ(status.find(secret), std::string::npos);
}

TEST_F(OffloadPipelineReconcilerTest, SomeoneElsesSecretIsReportedNotOverwritten) {
  secret("orders-binding", {{"mine", b64("yes")}});
  pipeline(validSpec());
  ASSERT_TRUE(reconciler_.reconcile({"shop", "orders"}).ok());
  EXPECT_EQ(condition("CoordinatorAvailable")["reason"], "NotOwned");
  EXPECT_EQ(client_->stored(kube::resources::secrets(), "shop", "orders-binding")["data"], json({{"mine", b64("yes")}}));
}

TEST_F(OffloadPipelineReconcilerTest, DeletionCompletesWhenTheBrokerIsGone) {
  json spec = validSpec();
  spec["deletionPolicy"] = "Delete";
  json object = pipeline(spec);
  object["metadata"]["deletionTimestamp"] = "2026-12-02T10:00:00Z";
  testing::cacheObject(*pipelines_, object);
  backends_->broker_error = Error::local("BrokerUnreachable", "connection refused");
  ASSERT_TRUE(reconciler_.reconcile({"shop", "orders"}).ok());
  EXPECT_EQ(backends_->removals, 1);
  EXPECT_EQ(backends_->removed_prefix, "shop.orders/");
  EXPECT_EQ(backends_->dropped_schema, "warren_shop_orders");
  EXPECT_FALSE(runtime::hasFinalizer(stored(), api::kOffloadFinalizer));
  bool reported = false;
  for (const auto& call : client_->writesTo("events")) reported |= call.body.dump().find("CleanupIncomplete") != std::string::npos;
  EXPECT_TRUE(reported);
}

}  // namespace
}  // namespace warren
