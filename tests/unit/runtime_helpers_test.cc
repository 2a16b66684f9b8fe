#include <atomic>
#include <future>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_client.h"

#include "runtime/controller.h"
#include "runtime/event_recorder.h"
#include "runtime/http_server.h"
#include "runtime/metrics.h"
#include "runtime/object_helpers.h"
#include "runtime/status_draft.h"
#include "runtime/work_queue.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

namespace warren::runtime {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

TEST(ConditionsTest, TransitionTimeMovesOnlyWithStatus) {
  json conditions;
  const auto t0 = std::chrono::system_clock::from_time_t(1000000000);
  const auto t1 = t0 + std::chrono::hours(1);
  EXPECT_TRUE(setCondition(conditions, {"Ready", "False", "Creating", "pods starting"}, 1, t0));
  EXPECT_EQ(conditions[0]["lastTransitionTime"], "2001-09-09T01:46:40Z");
  // Same status, new reason: changed, but the transition time stays.
  EXPECT_TRUE(setCondition(conditions, {"Ready", "False", "Waiting", "1/3 ready"}, 2, t1));
  EXPECT_EQ(conditions[0]["lastTransitionTime"], "2001-09-09T01:46:40Z");
  EXPECT_EQ(conditions[0]["observedGeneration"], 2);
  // Nothing new: no change, so no status write is needed.
  EXPECT_FALSE(setCondition(conditions, {"Ready", "False", "Waiting", "1/3 ready"}, 2, t1));
  EXPECT_TRUE(setCondition(conditions, {"Ready", "True", "AllReady", "3/3 ready"}, 2, t1));
  EXPECT_EQ(conditions[0]["lastTransitionTime"], "2001-09-09T02:46:40Z");
  EXPECT_TRUE(setCondition(conditions, {"Degraded", "False", "None", ""}, 2, t1));
  EXPECT_EQ(conditions.size(), 2u);
  ASSERT_NE(findCondition(conditions, "Degraded"), nullptr);
  EXPECT_EQ(findCondition(conditions, "Missing"), nullptr);
}

TEST(FinalizerTest, PatchesGuardWithTest) {
  json bare = {{"metadata", {{"name", "x"}}}};
  const auto add_first = addFinalizerPatch(bare, "warren.dev/cleanup");
  EXPECT_EQ(add_first[0], (json{{"op", "test"}, {"path", "/metadata/finalizers"}, {"value", nullptr}}));
  EXPECT_EQ(add_first[1]["value"], json::array({"warren.dev/cleanup"}));

  json with_other = {{"metadata", {{"finalizers", {"other"}}}}};
  const auto add_second = addFinalizerPatch(with_other, "warren.dev/cleanup");
  EXPECT_EQ(add_second[0]["value"], json::array({"other"}));
  EXPECT_EQ(add_second[1]["path"], "/metadata/finalizers/-");

  json with_both = {{"metadata", {{"finalizers", {"other", "warren.dev/cleanup"}}}}};
  EXPECT_TRUE(addFinalizerPatch(with_both, "warren.dev/cleanup").empty());
  const auto remove = removeFinalizerPatch(with_both, "warren.dev/cleanup");
  EXPECT_EQ(remove[0], (json{{"op", "test"}, {"path", "/metadata/finalizers/1"}, {"value", "warren.dev/cleanup"}}));
  EXPECT_EQ(remove[1]["op"], "remove");
  EXPECT_TRUE(removeFinalizerPatch(bare, "warren.dev/cleanup").empty());
}

// A cache that has not yet seen warren's own finalizer write sends a `test` the server fails: a conflict,
// retried quietly on fresh data, not an error the log reports.
TEST(FinalizerTest, StaleCacheIsAConflict) {
  testing::FakeClient client;
  const json stale = client.seed(kube::resources::configMaps(), {{"metadata", {{"namespace", "ns"}, {"name", "x"}}}});
  ASSERT_TRUE(addFinalizer(client, kube::resources::configMaps(), stale, "warren.dev/cleanup").ok());
  auto again = addFinalizer(client, kube::resources::configMaps(), stale, "warren.dev/cleanup");
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.error().isConflict()) << again.error().describe();
  const json fresh = client.stored(kube::resources::configMaps(), "ns", "x");
  ASSERT_TRUE(removeFinalizer(client, kube::resources::configMaps(), fresh, "warren.dev/cleanup").ok());
  auto remove_again = removeFinalizer(client, kube::resources::configMaps(), fresh, "warren.dev/cleanup");
  ASSERT_FALSE(remove_again.ok());
  EXPECT_TRUE(remove_again.error().isConflict());
}

TEST(SecretValueTest, DecodesOrIsEmpty) {
  const json secret = {{"data", {{"password", "czNjcjN0"}, {"odd", 7}, {"bad", "%%%"}}}};
  EXPECT_EQ(secretValue(secret, "password"), "s3cr3t");
  EXPECT_EQ(secretValue(secret, "missing"), "");
  EXPECT_EQ(secretValue(secret, "odd"), "");
  EXPECT_EQ(secretValue(secret, "bad"), "");
  EXPECT_EQ(secretValue(json{{"data", nullptr}}, "password"), "");
  EXPECT_EQ(secretValue(json::array(), "password"), "");
}

TEST(OwnerReferenceTest, ControllerReference) {
  const json owner = {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerCluster"},
                      {"metadata", {{"name", "b"}, {"uid", "u-1"}}}};
  EXPECT_EQ(controllerReference(owner),
            (json{{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerCluster"}, {"name", "b"},
                  {"uid", "u-1"}, {"controller", true}, {"blockOwnerDeletion", true}}));
  json child = {{"metadata", {{"namespace", "ns"}, {"ownerReferences", {controllerReference(owner)}}}}};
  EXPECT_EQ(controllerOwner(child, "warren.dev", "BrokerCluster"), (Request{"ns", "b"}));
  EXPECT_FALSE(controllerOwner(child, "apps", "BrokerCluster").has_value());
  EXPECT_FALSE(controllerOwner(child, "warren.dev", "Other").has_value());
}

TEST(RequestTest, KeysRoundTrip) {
  EXPECT_EQ(Request::fromKey("ns/name"), (Request{"ns", "name"}));
  EXPECT_EQ(Request::fromKey("cluster-scoped"), (Request{"", "cluster-scoped"}));
  EXPECT_EQ((Request{"a", "b"}).key(), "a/b");
}

TEST(MetricsTest, PrometheusTextFormat) {
  metrics::Registry registry;
  registry.counter("things_total", "Things.", {"kind"}).with({"a\"b"}).inc(2);
  registry.gauge("depth", "Depth.").get().set(3);
  auto& h = registry.histogram("latency_seconds", "Latency.", {"op"}, {0.1, 1});
  h.with({"get"}).observe(0.05);
  h.with({"get"}).observe(0.5);
  h.with({"get"}).observe(5);
  const std::string text = registry.render();
  EXPECT_THAT(text, HasSubstr("# TYPE things_total counter\nthings_total{kind=\"a\\\"b\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE depth gauge\ndepth 3\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_bucket{op=\"get\",le=\"0.1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_bucket{op=\"get\",le=\"1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_bucket{op=\"get\",le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_sum{op=\"get\"} 5.55\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_count{op=\"get\"} 3\n"));
}

// GET over loopback, IPv4 (AF_INET) or IPv6 (AF_INET6).
std::string httpGet(int port, const std::string& path, int family = AF_INET) {
  const int fd = ::socket(family, SOCK_STREAM, 0);
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (family == AF_INET6) {
    auto* address = reinterpret_cast<sockaddr_in6*>(&storage);
    address->sin6_family = AF_INET6;
    address->sin6_port = htons(static_cast<uint16_t>(port));
    address->sin6_addr = in6addr_loopback;
    length = sizeof *address;
  } else {
    auto* address = reinterpret_cast<sockaddr_in*>(&storage);
    address->sin_family = AF_INET;
    address->sin_port = htons(static_cast<uint16_t>(port));
    address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    length = sizeof *address;
  }
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    if (fd >= 0) ::close(fd);
    return "connect failed";
  }
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
  (void)::send(fd, request.data(), request.size(), 0);
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) response.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return response;
}

TEST(MetricsTest, ProcessAndInFlightWorkAreMeasuredWhenScraped) {
  metrics::updateProcessMetrics();
  WorkQueue queue("scraped-queue", defaultRetryLimiter({}));
  queue.add("k");
  ASSERT_EQ(*queue.get(), "k");
  std::string text = metrics::registry().render();
  for (const char* name : {"process_cpu_seconds_total ", "process_resident_memory_bytes ", "process_open_fds ",
                           "process_start_time_seconds ", "workqueue_unfinished_work_seconds{name=\"scraped-queue\"} ",
                           "workqueue_longest_running_processor_seconds{name=\"scraped-queue\"} "}) {
    EXPECT_THAT(text, HasSubstr(name));
  }
  queue.done("k");
  text = metrics::registry().render();
  EXPECT_THAT(text, HasSubstr("workqueue_work_duration_seconds_count{name=\"scraped-queue\"} 1"));
  EXPECT_THAT(text, HasSubstr("workqueue_unfinished_work_seconds{name=\"scraped-queue\"} 0\n"));
  auto& family = metrics::registry().counter("gone_total", "x", {"cluster"});
  family.with({"a"}).inc();
  family.remove({"a"});
  EXPECT_THAT(metrics::registry().render(), ::testing::Not(HasSubstr("gone_total{cluster=\"a\"}")));
}

TEST(HttpServerTest, ServesHandlersOnLoopback) {
  HttpServer server;
  bool ready = false;
  server.handle("/readyz", [&] { return ready ? HttpReply{200, "text/plain", "ok\n"} : HttpReply{503, "text/plain", "no\n"}; });
  ASSERT_TRUE(server.start("127.0.0.1:0").ok());
  ASSERT_GT(server.port(), 0);
  EXPECT_THAT(httpGet(server.port(), "/readyz"), HasSubstr("HTTP/1.1 503"));
  ready = true;
  EXPECT_THAT(httpGet(server.port(), "/readyz?verbose"), HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(httpGet(server.port(), "/nope"), HasSubstr("HTTP/1.1 404"));
  server.stop();
  HttpServer bad;
  EXPECT_FALSE(bad.start("no-port").ok());
}


TEST(HttpServerTest, StalledScrapersNeverBlockHealthz) {
  // Two workers; a third and fourth connection wait in the backlog, so the health check is served as soon as
  // a worker frees, which the I/O timeout guarantees.
  HttpServer server(2, std::chrono::milliseconds(300));
  server.handle("/healthz", [] { return HttpReply{200, "text/plain", "ok\n"}; });
  server.handle("/metrics", [] { return HttpReply{200, "text/plain", std::string(8 << 20, 'm')}; });
  ASSERT_TRUE(server.start("127.0.0.1:0").ok());
  auto connect = [&] {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(server.port()));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    return fd;
  };
  // One client connects and never sends; another asks for 8 MiB of metrics and never reads.
  const int silent = connect();
  const int not_reading = connect();
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_GT(::send(not_reading, request.data(), request.size(), 0), 0);
  // Both workers are now held by them; the health check still gets its answer.
  EXPECT_THAT(httpGet(server.port(), "/healthz"), HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(httpGet(server.port(), "/healthz"), HasSubstr("ok"));
  ::close(silent);
  ::close(not_reading);
  server.stop();
}

TEST(HttpServerTest, ListensOnIpv6AndIpv4WhenNoHostIsGiven) {
  HttpServer server;
  server.handle("/healthz", [] { return HttpReply{200, "text/plain", "ok\n"}; });
  ASSERT_TRUE(server.start(":0").ok());
  EXPECT_THAT(httpGet(server.port(), "/healthz"), HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(httpGet(server.port(), "/healthz", AF_INET6), HasSubstr("HTTP/1.1 200 OK"));
}

class RecordingWriter : public kube::ObjectWriter {
 public:
  std::vector<std::pair<std::string, json>> calls;
  Result<json> create(const kube::ResourceType&, std::string_view, const json& o, const kube::WriteOptions&) override {
    calls.emplace_back("create", o);
    return o;
  }
  Result<json> update(const kube::ResourceType&, std::string_view, const json& o, const kube::WriteOptions&) override {
    calls.emplace_back("update", o);
    return o;
  }
  Result<json> apply(const kube::ResourceType&, std::string_view, const json& o, const kube::ApplyOptions& options) override {
    calls.emplace_back(options.force ? "apply --force" : "apply", o);
    return o;
  }
  Result<json> patch(const kube::ResourceType&, std::string_view, std::string_view name, kube::PatchType,
                     const json& p, const kube::WriteOptions&) override {
    calls.emplace_back("patch " + std::string(name), p);
    return p;
  }
  Result<json> remove(const kube::ResourceType&, std::string_view, std::string_view, const kube::DeleteOptions&) override { return json{}; }
};

TEST(EventRecorderTest, RepeatsAreAggregated) {
  auto writer = std::make_shared<RecordingWriter>();
  EventRecorder recorder(writer, "warren");
  const json object = {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerCluster"},
                       {"metadata", {{"name", "b"}, {"namespace", "ns"}, {"uid", "u"}}}};
  recorder.record(object, "Normal", "Rerouted", "clients moved to b-1");
  recorder.record(object, "Normal", "Rerouted", "clients moved to b-1");
  recorder.record(object, "Warning", "NoHealthyNode", "no node is ready");
  ASSERT_EQ(writer->calls.size(), 3u);
  EXPECT_EQ(writer->calls[0].first, "create");
  const json& event = writer->calls[0].second;
  EXPECT_EQ(event["involvedObject"]["kind"], "BrokerCluster");
  EXPECT_EQ(event["reason"], "Rerouted");
  EXPECT_EQ(event["metadata"]["namespace"], "ns");
  EXPECT_EQ(writer->calls[1].first, "patch " + event["metadata"]["name"].get<std::string>());
  EXPECT_EQ(writer->calls[1].second["count"], 2);
  EXPECT_EQ(writer->calls[2].first, "create");
  EXPECT_EQ(recorder.buildEvent(object, "Normal", "R", std::string(5000, 'x'), {})["message"].get<std::string>().size(), 1024u);
}

// Background delivery: record() returns while the API call is still blocked, and the Event is written after.
TEST(EventRecorderTest, BackgroundDeliveryNeverMakesTheCallerWait) {
  class GatedWriter : public RecordingWriter {
   public:
    std::promise<void> gate;
    std::shared_future<void> opened = gate.get_future().share();
    std::atomic<int> created{0};
    Result<json> create(const kube::ResourceType& type, std::string_view ns, const json& o,
                        const kube::WriteOptions& options) override {
      opened.wait();
      auto out = RecordingWriter::create(type, ns, o, options);
      ++created;
      return out;
    }
  };
  auto writer = std::make_shared<GatedWriter>();
  EventRecorder recorder(writer, "warren", EventDelivery::kBackground);
  const json object = {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerBinding"},
                       {"metadata", {{"name", "b"}, {"namespace", "ns"}, {"uid", "u"}}}};
  recorder.record(object, "Normal", "Rerouted", "clients moved to b-1");  // returns although the write is blocked
  EXPECT_EQ(writer->created.load(), 0);
  writer->gate.set_value();
  recorder.flush();
  ASSERT_EQ(writer->created.load(), 1);
  EXPECT_EQ(writer->calls[0].second["reason"], "Rerouted");
  EXPECT_EQ(writer->calls[0].second["involvedObject"]["uid"], "u");
}

json ownedSecret(const std::string& owner_uid) {
  return {{"apiVersion", "v1"}, {"kind", "Secret"},
          {"metadata", {{"name", "s"}, {"namespace", "ns"},
                        {"ownerReferences", json::array({{{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerBinding"},
                                                          {"name", "b"}, {"uid", owner_uid}, {"controller", true}}})}}},
          {"data", {{"k", "djE="}}}};
}

TEST(CreateOrUpdateDataTest, CreatesThenUpdatesOnlyTheDataAndOnlyWhenItDiffers) {
  testing::FakeClient client;
  const json fresh = ownedSecret("owner-1");
  ASSERT_TRUE(createOrUpdateData(client, client, kube::resources::secrets(), fresh, "warren").ok());
  ASSERT_EQ(client.writes().size(), 1u);
  EXPECT_EQ(client.writes()[0].verb, "create");
  // Exists with the same data (and fields of its own): nothing to write.
  json live = client.stored(kube::resources::secrets(), "ns", "s");
  live["metadata"]["labels"] = {{"user", "label"}};
  client.seed(kube::resources::secrets(), live);
  ASSERT_TRUE(createOrUpdateData(client, client, kube::resources::secrets(), fresh, "warren").ok());
  EXPECT_EQ(client.writes().size(), 1u);
  // Data changed: updated under the resourceVersion read, the object's own fields kept.
  live = client.stored(kube::resources::secrets(), "ns", "s");
  live["data"]["k"] = "b2xk";
  client.seed(kube::resources::secrets(), live);
  ASSERT_TRUE(createOrUpdateData(client, client, kube::resources::secrets(), fresh, "warren").ok());
  ASSERT_EQ(client.writes().size(), 2u);
  EXPECT_EQ(client.writes()[1].verb, "update");
  EXPECT_FALSE(client.writes()[1].body["metadata"].value("resourceVersion", "").empty());
  EXPECT_EQ(client.stored(kube::resources::secrets(), "ns", "s")["data"], fresh["data"]);
  EXPECT_EQ(client.stored(kube::resources::secrets(), "ns", "s")["metadata"]["labels"]["user"], "label");
}

TEST(CreateOrUpdateDataTest, NeverWritesAnObjectItsOwnerDidNotCreate) {
  testing::FakeClient client;
  // Someone's own Secret under the name a binding asks for: no ownerReference.
  json theirs = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "s"}, {"namespace", "ns"}}},
                 {"data", {{"precious", "eA=="}}}};
  client.seed(kube::resources::secrets(), theirs);
  auto refused = createOrUpdateData(client, client, kube::resources::secrets(), ownedSecret("owner-1"), "warren");
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.error().isNotOwned());
  EXPECT_TRUE(refused.error().terminal);
  EXPECT_NE(refused.error().message.find("Secret ns/s"), std::string::npos) << refused.error().message;
  // Another controller's: likewise.
  client.seed(kube::resources::secrets(), ownedSecret("owner-2"));
  EXPECT_TRUE(createOrUpdateData(client, client, kube::resources::secrets(), ownedSecret("owner-1"), "warren").error().isNotOwned());
  EXPECT_TRUE(client.writes().empty());
  EXPECT_EQ(client.stored(kube::resources::secrets(), "ns", "s")["data"], json({{"k", "djE="}}));
}

TEST(KeepIdentityOnlyTest, KeepsNameNamespaceAndResourceVersion) {
  json object = {{"apiVersion", "v1"}, {"kind", "ConfigMap"},
                 {"metadata", {{"name", "c"}, {"namespace", "ns"}, {"resourceVersion", "7"}, {"uid", "u"},
                               {"annotations", {{"big", std::string(1000, 'x')}}}}},
                 {"data", {{"k", "v"}}}};
  keepIdentityOnly(object);
  EXPECT_EQ(object, (json{{"metadata", {{"name", "c"}, {"namespace", "ns"}, {"resourceVersion", "7"}}}}));
  json cluster_scoped = {{"metadata", {{"name", "n"}}}};
  keepIdentityOnly(cluster_scoped);
  EXPECT_EQ(cluster_scoped, (json{{"metadata", {{"name", "n"}}}}));
}

json ownedConfigMap(const std::string& owner_uid) {
  return {{"metadata", {{"name", "c"}, {"labels", {{"a", "1"}}},
                        {"ownerReferences", json::array({{{"uid", owner_uid}, {"controller", true}}})}}},
          {"data", {{"k", "v"}}}};
}

TEST(ApplyOwnedTest, WritesOnlyWhatTheCacheDoesNotAlreadyHold) {
  testing::FakeClient client;
  const json desired = ownedConfigMap("u1");
  // Nothing cached and nothing live: applied, taking over the fields.
  ASSERT_TRUE(applyOwned(client, client, kube::resources::configMaps(), "ns", nullptr, desired, "warren").ok());
  ASSERT_EQ(client.writes().size(), 1u);
  EXPECT_EQ(client.writes()[0].verb, "apply");
  // The cache holds it, plus what the server added: no write.
  json live = client.stored(kube::resources::configMaps(), "ns", "c");
  live["metadata"]["labels"]["other"] = "x";
  ASSERT_TRUE(applyOwned(client, client, kube::resources::configMaps(), "ns", &live, desired, "warren").ok());
  EXPECT_EQ(client.writes().size(), 1u);
  // Someone changed a field warren owns: applied again.
  live["data"]["k"] = "edited";
  ASSERT_TRUE(applyOwned(client, client, kube::resources::configMaps(), "ns", &live, desired, "warren").ok());
  EXPECT_EQ(client.writes().size(), 2u);
}

TEST(ContainsAllTest, QuantitiesAreComparedByValueNotSpelling) {
  EXPECT_EQ(*parseQuantity("1Gi"), *parseQuantity("1024Mi"));
  EXPECT_NEAR(static_cast<double>(*parseQuantity("500m")), 0.5, 1e-12);
  EXPECT_EQ(*parseQuantity("1e3"), 1000.0L);
  EXPECT_FALSE(parseQuantity("1Gb").has_value());
  EXPECT_FALSE(parseQuantity("abc").has_value());
  const json desired = {{"spec", {{"resources", {{"limits", {{"memory", "1024Mi"}, {"cpu", "0.5"}}},
                                                 {"requests", {{"storage", "10240Mi"}}}}},
                                  {"image", "1Gi"}}}};
  const json live = {{"spec", {{"resources", {{"limits", {{"memory", "1Gi"}, {"cpu", "500m"}}},
                                              {"requests", {{"storage", "10Gi"}}}}},
                               {"image", "1Gi"}}}};
  EXPECT_TRUE(containsAll(live, desired)) << "a spec with 1024Mi must not be re-applied forever";
  json bigger = live;
  bigger["spec"]["resources"]["limits"]["memory"] = "2Gi";
  EXPECT_FALSE(containsAll(bigger, desired));
  // Outside requests and limits strings are strings.
  json other = desired;
  other["spec"]["image"] = "1024Mi";
  EXPECT_FALSE(containsAll(live, other));
}

TEST(ApplyOwnedTest, NeverAppliesOverAnObjectOfSomeoneElse) {
  testing::FakeClient client;
  // Not in warren's label-selected cache, but live: read, found foreign, refused.
  client.seed(kube::resources::configMaps(), {{"metadata", {{"name", "c"}, {"namespace", "ns"}}}, {"data", {{"mine", "1"}}}});
  auto refused = applyOwned(client, client, kube::resources::configMaps(), "ns", nullptr, ownedConfigMap("u1"), "warren");
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.error().isNotOwned());
  // Cached but controlled by another owner: refused without a read.
  const json other = client.seed(kube::resources::configMaps(), ownedConfigMap("u2"));
  client.clearCalls();
  EXPECT_TRUE(applyOwned(client, client, kube::resources::configMaps(), "ns", &other, ownedConfigMap("u1"), "warren")
                  .error().isNotOwned());
  EXPECT_EQ(client.reads(), 0);
  EXPECT_TRUE(client.writes().empty());
}

TEST(MergePatchFromTest, RemovesWhatIsGoneAndSendsOnlyWhatChanged) {
  const json before = {{"endpoints", {{"amqp", "a:5672"}, {"mqtt", "a:1883"}}}, {"replicas", 3}, {"old", "x"},
                       {"conditions", json::array({{{"type", "A"}}})}};
  const json after = {{"endpoints", {{"amqp", "a:5672"}}}, {"replicas", 3}, {"conditions", json::array({{{"type", "B"}}})}};
  const json patch = mergePatchFrom(before, after);
  EXPECT_EQ(patch, (json{{"endpoints", {{"mqtt", nullptr}}}, {"old", nullptr}, {"conditions", json::array({{{"type", "B"}}})}}));
  json applied = before;
  applied.merge_patch(patch);
  EXPECT_EQ(applied, after);
  EXPECT_EQ(mergePatchFrom(after, after), json::object());
}

class RecordingStatusWriter : public kube::StatusWriter {
 public:
  std::vector<std::pair<std::string, json>> patches;  // "ns/name", patch
  Error answer_with;                                   // http_status 0: succeed
  Result<json> updateStatus(const kube::ResourceType&, std::string_view, const json& o, const kube::WriteOptions&) override { return o; }
  Result<json> applyStatus(const kube::ResourceType&, std::string_view, const json& o, const kube::ApplyOptions&) override { return o; }
  Result<json> patchStatus(const kube::ResourceType&, std::string_view ns, std::string_view name, kube::PatchType,
                           const json& patch, const kube::WriteOptions&) override {
    patches.emplace_back(std::string(ns) + "/" + std::string(name), patch);
    if (answer_with.http_status != 0) return answer_with;
    return patch;
  }
};

TEST(StatusDraftTest, WritesOnlyWhatChangedAndStampsTheGeneration) {
  testing::FakeClient client;
  const auto& type = kube::resources::configMaps();
  json object = client.seed(type, {{"metadata", {{"name", "b"}, {"namespace", "ns"}}},
                                   {"status", {{"currentNode", "n-0"}, {"lastPatched", "t"}}}});
  StatusDraft first(object);
  EXPECT_EQ(first.fields()["currentNode"], "n-0");
  first.fields().erase("lastPatched");
  first.setCondition({"Ready", "True", "Configured", "ok"});
  ASSERT_TRUE(first.write(client, type, "warren").ok());
  ASSERT_EQ(client.writes().size(), 1u);
  const json patch = client.writes()[0].body;
  EXPECT_EQ(patch["metadata"]["resourceVersion"], object["metadata"]["resourceVersion"]) << "the cached version is a precondition";
  EXPECT_EQ(patch["status"]["lastPatched"], nullptr) << "a field no longer set is removed";
  EXPECT_FALSE(patch["status"].contains("currentNode")) << "unchanged fields are not sent";
  object = client.stored(type, "ns", "b");
  EXPECT_EQ(object["status"]["observedGeneration"], 1);
  EXPECT_FALSE(object["status"].contains("lastPatched"));
  ASSERT_NE(findCondition(object["status"]["conditions"], "Ready"), nullptr);
  EXPECT_EQ((*findCondition(object["status"]["conditions"], "Ready"))["observedGeneration"], 1);

  // The cache now holds what was written: the same draft again writes nothing.
  StatusDraft again(object);
  again.setCondition({"Ready", "True", "Configured", "ok"});
  ASSERT_TRUE(again.write(client, type, "warren").ok());
  EXPECT_EQ(client.writes().size(), 1u);

  // A draft from a stale cache (the object moved on) is refused, not written over the newer status.
  client.seed(type, object);  // someone else's write: a new resourceVersion
  StatusDraft stale(object);
  stale.fields()["currentNode"] = "n-1";
  auto refused = stale.write(client, type, "warren");
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.error().isConflict());
  EXPECT_EQ(client.stored(type, "ns", "b")["status"]["currentNode"], "n-0");

  // Deleted meanwhile is not an error.
  client.erase(type, "ns", "b");
  EXPECT_TRUE(stale.write(client, type, "warren").ok());
}

}  // namespace
}  // namespace warren::runtime
