// The Kubernetes client against a real kube-apiserver (the local control
// plane from hack/local-cluster.sh): CRUD, server-side apply, subresources,
// pagination, watches, errors and RBAC.
#include <algorithm>
#include <atomic>
#include <set>
#include <fstream>
#include <iostream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube/cpprest_transport.h"
#include "live_cluster.h"

namespace warren::kube {
namespace {

using ::testing::HasSubstr;
using testing::LiveClusterTest;
using json = nlohmann::json;

const ResourceType kWidgets{"test.warren.dev", "v1", "Widget", "widgets", true};

json configMap(const std::string& name, json data = {{"k", "v"}}) {
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", data}};
}

// A CRD with status and scale subresources, installed once for this binary.
void ensureWidgetCrd(Client& client) {
  const json crd = json::parse(R"({
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.test.warren.dev"},
    "spec": {
      "group": "test.warren.dev", "scope": "Namespaced",
      "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
      "versions": [{
        "name": "v1", "served": true, "storage": true,
        "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                 "statusReplicasPath": ".status.replicas"}},
        "schema": {"openAPIV3Schema": {"type": "object", "properties": {
          "spec": {"type": "object", "properties": {
            "replicas": {"type": "integer", "minimum": 0},
            "color": {"type": "string"}, "size": {"type": "string"}}},
          "status": {"type": "object", "properties": {
            "replicas": {"type": "integer"}, "phase": {"type": "string"}}}}}}
      }]
    }})");
  auto created = client.create(resources::customResourceDefinitions(), "", crd, {});
  ASSERT_TRUE(created.ok() || created.error().isAlreadyExists()) << created.error().describe();
  ASSERT_TRUE(LiveClusterTest::eventually([&] {
    auto got = client.get(resources::customResourceDefinitions(), "", "widgets.test.warren.dev");
    if (!got) return false;
    for (const auto& c : (*got)["status"].value("conditions", json::array())) {
      if (c["type"] == "Established" && c["status"] == "True") return true;
    }
    return false;
  }));
  // Discovery may lag the Established condition by a moment.
  ASSERT_TRUE(LiveClusterTest::eventually([&] {
    return client.list(kWidgets, "default", {}).ok();
  }));
}

class ClientIntegrationTest : public LiveClusterTest {};

TEST_F(ClientIntegrationTest, ServerVersionIsTheRealApiServer) {
  auto version = client().serverVersion();
  ASSERT_TRUE(version.ok()) << version.error().describe();
  const std::string git_version = version->value("gitVersion", "");
  std::cout << "kube-apiserver version: " << git_version << std::endl;
  RecordProperty("kube_apiserver_version", git_version);
  EXPECT_THAT(git_version, ::testing::StartsWith("v1.32."));
}

TEST_F(ClientIntegrationTest, ConfigMapCrud) {
  auto created = client().create(resources::configMaps(), ns(), configMap("crud"), {});
  ASSERT_TRUE(created.ok()) << created.error().describe();
  EXPECT_FALSE((*created)["metadata"]["uid"].get<std::string>().empty());

  auto again = client().create(resources::configMaps(), ns(), configMap("crud"), {});
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.error().isAlreadyExists());

  json object = *client().get(resources::configMaps(), ns(), "crud");
  object["data"]["k"] = "v2";
  auto updated = client().update(resources::configMaps(), ns(), object, {});
  ASSERT_TRUE(updated.ok()) << updated.error().describe();
  EXPECT_EQ((*updated)["data"]["k"], "v2");

  // The stale copy now loses optimistic concurrency.
  object["data"]["k"] = "v3";
  auto stale = client().update(resources::configMaps(), ns(), object, {});
  ASSERT_FALSE(stale.ok());
  EXPECT_TRUE(stale.error().isConflict()) << stale.error().describe();

  auto merged = client().patch(resources::configMaps(), ns(), "crud", PatchType::kMerge,
                               {{"data", {{"extra", "1"}}}}, {});
  ASSERT_TRUE(merged.ok()) << merged.error().describe();
  EXPECT_EQ((*merged)["data"]["extra"], "1");
  EXPECT_EQ((*merged)["data"]["k"], "v2");

  auto json_patched = client().patch(
      resources::configMaps(), ns(), "crud", PatchType::kJson,
      json::array({{{"op", "test"}, {"path", "/data/k"}, {"value", "v2"}},
                   {{"op", "remove"}, {"path", "/data/extra"}}}),
      {});
  ASSERT_TRUE(json_patched.ok()) << json_patched.error().describe();
  EXPECT_FALSE((*json_patched)["data"].contains("extra"));
  auto failed_test = client().patch(resources::configMaps(), ns(), "crud", PatchType::kJson,
                                    json::array({{{"op", "test"}, {"path", "/data/k"}, {"value", "nope"}}}),
                                    {});
  ASSERT_FALSE(failed_test.ok());
  EXPECT_TRUE(failed_test.error().isInvalid()) << failed_test.error().describe();

  auto removed = client().remove(resources::configMaps(), ns(), "crud", {});
  ASSERT_TRUE(removed.ok()) << removed.error().describe();
  auto gone = client().get(resources::configMaps(), ns(), "crud");
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(gone.error().isNotFound());
  EXPECT_EQ(gone.error().http_status, 404);
  EXPECT_THAT(gone.error().message, HasSubstr("crud"));
}

TEST_F(ClientIntegrationTest, DeletePreconditionsAndPropagation) {
  auto created = client().create(resources::configMaps(), ns(), configMap("pre"), {});
  ASSERT_TRUE(created.ok());
  DeleteOptions wrong_uid;
  wrong_uid.precondition_uid = "00000000-0000-0000-0000-000000000000";
  auto refused = client().remove(resources::configMaps(), ns(), "pre", wrong_uid);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.error().isConflict()) << refused.error().describe();

  DeleteOptions right;
  right.precondition_uid = (*created)["metadata"]["uid"].get<std::string>();
  right.precondition_resource_version = (*created)["metadata"]["resourceVersion"].get<std::string>();
  right.propagation = PropagationPolicy::kForeground;
  auto removed = client().remove(resources::configMaps(), ns(), "pre", right);
  EXPECT_TRUE(removed.ok()) << removed.error().describe();
}

TEST_F(ClientIntegrationTest, CustomResourceCrudStatusAndScale) {
  ensureWidgetCrd(client());
  const json widget = {{"apiVersion", "test.warren.dev/v1"}, {"kind", "Widget"},
                       {"metadata", {{"name", "w1"}}},
                       {"spec", {{"replicas", 1}, {"color", "red"}}},
                       {"status", {{"phase", "ignored-on-create"}}}};
  auto created = client().create(kWidgets, ns(), widget, {});
  ASSERT_TRUE(created.ok()) << created.error().describe();
  EXPECT_FALSE((*created).contains("status"));  // the main resource ignores status

  json with_status = *created;
  with_status["status"] = {{"phase", "Ready"}, {"replicas", 1}};
  with_status["spec"]["color"] = "ignored-by-status";
  auto status = client().updateStatus(kWidgets, ns(), with_status, {});
  ASSERT_TRUE(status.ok()) << status.error().describe();
  EXPECT_EQ((*status)["status"]["phase"], "Ready");
  EXPECT_EQ((*status)["spec"]["color"], "red");  // the status subresource ignores spec

  auto patched = client().patchStatus(kWidgets, ns(), "w1", PatchType::kMerge,
                                      {{"status", {{"phase", "Degraded"}}}}, {});
  ASSERT_TRUE(patched.ok()) << patched.error().describe();
  EXPECT_EQ((*patched)["status"]["phase"], "Degraded");

  auto scale = client().getScale(kWidgets, ns(), "w1");
  ASSERT_TRUE(scale.ok()) << scale.error().describe();
  EXPECT_EQ((*scale)["kind"], "Scale");
  EXPECT_EQ((*scale)["spec"]["replicas"], 1);
  (*scale)["spec"]["replicas"] = 3;
  auto rescaled = client().updateScale(kWidgets, ns(), "w1", *scale);
  ASSERT_TRUE(rescaled.ok()) << rescaled.error().describe();
  EXPECT_EQ((*client().get(kWidgets, ns(), "w1"))["spec"]["replicas"], 3);

  auto invalid = client().patch(kWidgets, ns(), "w1", PatchType::kMerge,
                                {{"spec", {{"replicas", -1}}}}, {});
  ASSERT_FALSE(invalid.ok());
  EXPECT_TRUE(invalid.error().isInvalid());
  EXPECT_THAT(invalid.error().message, HasSubstr("spec.replicas"));

  auto removed = client().remove(kWidgets, ns(), "w1", {});
  EXPECT_TRUE(removed.ok()) << removed.error().describe();
}

TEST_F(ClientIntegrationTest, ServerSideApplyAndManagerConflicts) {
  ensureWidgetCrd(client());
  const json first = {{"apiVersion", "test.warren.dev/v1"}, {"kind", "Widget"},
                      {"metadata", {{"name", "ssa"}}}, {"spec", {{"color", "blue"}}}};
  auto created = client().apply(kWidgets, ns(), first, {"manager-a", false});
  ASSERT_TRUE(created.ok()) << created.error().describe();
  EXPECT_EQ((*created)["spec"]["color"], "blue");

  // Re-applying the same intent is a no-op: the resourceVersion stays.
  auto same = client().apply(kWidgets, ns(), first, {"manager-a", false});
  ASSERT_TRUE(same.ok());
  EXPECT_EQ((*same)["metadata"]["resourceVersion"], (*created)["metadata"]["resourceVersion"]);

  json update = first;
  update["spec"]["size"] = "L";
  auto updated = client().apply(kWidgets, ns(), update, {"manager-a", false});
  ASSERT_TRUE(updated.ok()) << updated.error().describe();
  EXPECT_EQ((*updated)["spec"]["size"], "L");

  json rival = {{"apiVersion", "test.warren.dev/v1"}, {"kind", "Widget"},
                {"metadata", {{"name", "ssa"}}}, {"spec", {{"color", "green"}}}};
  auto conflict = client().apply(kWidgets, ns(), rival, {"manager-b", false});
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().http_status, 409);
  EXPECT_TRUE(conflict.error().isConflict());
  EXPECT_THAT(conflict.error().message, HasSubstr("manager-a"));

  auto forced = client().apply(kWidgets, ns(), rival, {"manager-b", true});
  ASSERT_TRUE(forced.ok()) << forced.error().describe();
  EXPECT_EQ((*forced)["spec"]["color"], "green");
  EXPECT_EQ((*forced)["spec"]["size"], "L");  // still manager-a's
}

TEST_F(ClientIntegrationTest, MetadataOnlyListAndWatchCarryNoData) {
  ASSERT_TRUE(client().create(resources::configMaps(), ns(), configMap("meta", {{"secret-ish", "payload"}}), {}).ok());
  ListOptions list_options;
  list_options.metadata_only = true;
  auto listed = client().list(resources::configMaps(), ns(), list_options);
  ASSERT_TRUE(listed.ok()) << listed.error().describe();
  EXPECT_EQ(listed->value("kind", ""), "PartialObjectMetadataList");
  bool found = false;
  for (const auto& item : (*listed)["items"]) {
    EXPECT_FALSE(item.contains("data")) << item.dump();
    if (objectName(item) == "meta") found = true;
  }
  EXPECT_TRUE(found);

  WatchOptions watch_options;
  watch_options.metadata_only = true;
  watch_options.resource_version = (*listed)["metadata"].value("resourceVersion", "");
  watch_options.timeout_seconds = 10;
  std::thread editor([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    (void)client().patch(resources::configMaps(), ns(), "meta", PatchType::kMerge, {{"data", {{"k", "changed"}}}}, {});
  });
  json seen;
  Cancellation cancel;
  auto status = client().watch(resources::configMaps(), ns(), watch_options, [&](WatchEvent& event) {
    if (event.type != WatchEventType::kModified) return true;
    seen = event.object;
    return false;
  }, cancel);
  editor.join();
  ASSERT_TRUE(status.ok()) << status.error().describe();
  EXPECT_EQ(seen.value("kind", ""), "PartialObjectMetadata");
  EXPECT_EQ(objectName(seen), "meta");
  EXPECT_FALSE(seen.contains("data"));
}

TEST_F(ClientIntegrationTest, PaginationOver500Objects) {
  constexpr int kCount = 500;
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = w; i < kCount; i += 4) {
        json cm = configMap("page-" + std::to_string(i));
        cm["metadata"]["labels"] = {{"suite", "pagination"}};
        if (!client().create(resources::configMaps(), ns(), cm, {})) ++failures;
      }
    });
  }
  for (auto& t : writers) t.join();
  ASSERT_EQ(failures.load(), 0);

  int pages = 0;
  std::set<std::string> names;
  ListOptions options;
  options.limit = 120;
  options.label_selector = "suite=pagination";
  while (true) {
    auto page = client().list(resources::configMaps(), ns(), options);
    ASSERT_TRUE(page.ok()) << page.error().describe();
    ++pages;
    for (const auto& item : (*page)["items"]) names.insert(objectName(item));
    options.continue_token = (*page)["metadata"].value("continue", "");
    if (options.continue_token.empty()) break;
  }
  EXPECT_EQ(pages, 5);
  EXPECT_EQ(names.size(), static_cast<size_t>(kCount));

  ListOptions all;
  all.limit = 50;
  all.label_selector = "suite=pagination";
  auto merged = client().listAll(resources::configMaps(), ns(), all);
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ((*merged)["items"].size(), static_cast<size_t>(kCount));

  ListOptions by_field;
  by_field.field_selector = "metadata.name=page-7";
  auto one = client().list(resources::configMaps(), ns(), by_field);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ((*one)["items"].size(), 1u);
}

TEST_F(ClientIntegrationTest, WatchSeesAddedModifiedDeletedAndBookmark) {
  auto list = client().list(resources::configMaps(), ns(), {});
  ASSERT_TRUE(list.ok());
  WatchOptions options;
  options.resource_version = (*list)["metadata"]["resourceVersion"].get<std::string>();
  // The server sends a bookmark shortly before a watch's timeout.
  options.timeout_seconds = 6;
  options.field_selector = "metadata.name=watched";

  std::vector<std::string> seen;
  std::string last_rv;
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto c = newAdminClient();
    (void)c->create(resources::configMaps(), ns(), configMap("watched"), {});
    (void)c->patch(resources::configMaps(), ns(), "watched", PatchType::kMerge, {{"data", {{"k", "2"}}}}, {});
    (void)c->remove(resources::configMaps(), ns(), "watched", {});
  });
  Cancellation cancel;
  auto status = client().watch(resources::configMaps(), ns(), options, [&](WatchEvent& event) {
    seen.emplace_back(watchEventTypeName(event.type));
    last_rv = event.resourceVersion();
    return true;
  }, cancel);
  writer.join();
  ASSERT_TRUE(status.ok()) << status.error().describe();
  ASSERT_GE(seen.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(seen.begin(), seen.begin() + 3),
            (std::vector<std::string>{"ADDED", "MODIFIED", "DELETED"}));
  EXPECT_NE(std::find(seen.begin() + 3, seen.end(), "BOOKMARK"), seen.end())
      << "no BOOKMARK before the watch timed out";
  EXPECT_FALSE(last_rv.empty());
}

TEST_F(ClientIntegrationTest, WatchCanBeCancelledWhileIdle) {
  WatchOptions options;
  options.timeout_seconds = 60;
  Cancellation cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    cancel.cancel();
  });
  const auto start = std::chrono::steady_clock::now();
  auto status = client().watch(resources::configMaps(), ns(), options, [](WatchEvent&) { return true; }, cancel);
  canceller.join();
  EXPECT_TRUE(status.ok()) << status.error().describe();
  // Returned because of the cancel, long before the 60 s server timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

// Compacts etcd through its gRPC gateway, with our own transport over plain
// HTTP, to make history really disappear.
void compactEtcd() {
  const char* etcd = std::getenv("WARREN_TEST_ETCD_URL");
  if (etcd == nullptr) GTEST_SKIP() << "WARREN_TEST_ETCD_URL not set";
  auto transport = CpprestTransport::create(etcd, {}, std::chrono::seconds(10), "warren-test");
  ASSERT_TRUE(transport.ok());
  HttpRequest range;
  range.method = "POST";
  range.path = "/v3/kv/range";
  range.content_type = "application/json";
  range.body = R"({"key":"AA=="})";
  auto answer = (*transport)->send(range);
  ASSERT_TRUE(answer.ok()) << answer.error().describe();
  const auto revision = json::parse(answer->body)["header"]["revision"].get<std::string>();
  HttpRequest compact = range;
  compact.path = "/v3/kv/compaction";
  compact.body = json{{"revision", revision}, {"physical", true}}.dump();
  auto compacted = (*transport)->send(compact);
  ASSERT_TRUE(compacted.ok());
  ASSERT_EQ(compacted->status, 200) << compacted->body;
}

// A watch is served from the API server's watch cache, which keeps its own
// history from the moment it listed the resource: on a fresh cluster the
// ConfigMap cache may have listed at revision 1 and can replay everything, so
// compacting etcd alone does not make revision 1 "gone" for ConfigMaps. The
// cache of a custom resource starts when its CRD is established, long after
// revision 1; compacting etcd as well makes the uncached path agree.
TEST_F(ClientIntegrationTest, WatchFromACompactedVersionIsGone) {
  ensureWidgetCrd(client());
  const json widget = {{"apiVersion", "test.warren.dev/v1"}, {"kind", "Widget"},
                       {"metadata", {{"name", "old"}}}, {"spec", {{"replicas", 0}}}};
  ASSERT_TRUE(client().create(kWidgets, ns(), widget, {}).ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client().patch(kWidgets, ns(), "old", PatchType::kMerge,
                               {{"spec", {{"color", std::to_string(i)}}}}, {}).ok());
  }
  compactEtcd();
  WatchOptions options;
  options.resource_version = "1";  // before the watch cache began, and compacted in etcd
  options.timeout_seconds = 5;
  int events = 0;
  Cancellation cancel;
  auto status = client().watch(kWidgets, ns(), options,
                               [&](WatchEvent&) { ++events; return true; }, cancel);
  ASSERT_FALSE(status.ok()) << "watch from a compacted resourceVersion succeeded after "
                            << events << " events";
  EXPECT_TRUE(status.error().isGone()) << status.error().describe();
  EXPECT_EQ(status.error().http_status, 410);
  EXPECT_EQ(events, 0);
}

TEST_F(ClientIntegrationTest, ServiceAccountTokenIsForbiddenWhereRbacDenies) {
  ASSERT_TRUE(client().create(resources::serviceAccounts(), ns(),
                              {{"apiVersion", "v1"}, {"kind", "ServiceAccount"},
                               {"metadata", {{"name", "limited"}}}}, {}).ok());
  auto token_request = client().call(requests::createSubresource(
      resources::serviceAccounts(), ns(), "limited", "token",
      {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "TokenRequest"},
       {"spec", {{"expirationSeconds", 600}}}}));
  ASSERT_TRUE(token_request.ok()) << token_request.error().describe();
  const std::string token = (*token_request)["status"]["token"].get<std::string>();
  ASSERT_FALSE(token.empty());

  ClientConfig limited = adminConfig();
  limited.tls.client_cert_pem.clear();
  limited.tls.client_key_pem.clear();
  limited.auth = {};
  limited.auth.token = token;
  auto sa_client = Client::fromConfig(limited);
  ASSERT_TRUE(sa_client.ok());
  auto denied = (*sa_client)->list(resources::secrets(), "kube-system", {});
  ASSERT_FALSE(denied.ok());
  EXPECT_TRUE(denied.error().isForbidden()) << denied.error().describe();
  EXPECT_EQ(denied.error().http_status, 403);
  EXPECT_THAT(denied.error().message, HasSubstr("system:serviceaccount:" + ns() + ":limited"));

  // A Role grants exactly one thing: reading ConfigMaps in this namespace.
  ASSERT_TRUE(client().create(resources::roles(), ns(), json::parse(R"({
      "apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"read-cm"},
      "rules":[{"apiGroups":[""],"resources":["configmaps"],"verbs":["get","list"]}]})"), {}).ok());
  json binding = json::parse(R"({
      "apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"read-cm"},
      "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"read-cm"},
      "subjects":[{"kind":"ServiceAccount","name":"limited"}]})");
  binding["subjects"][0]["namespace"] = ns();
  ASSERT_TRUE(client().create(resources::roleBindings(), ns(), binding, {}).ok());
  EXPECT_TRUE(eventually([&] { return (*sa_client)->list(resources::configMaps(), ns(), {}).ok(); }));
  auto write = (*sa_client)->create(resources::configMaps(), ns(), configMap("nope"), {});
  ASSERT_FALSE(write.ok());
  EXPECT_TRUE(write.error().isForbidden());

  limited.auth.token = "not-a-real-token";
  auto bogus = Client::fromConfig(limited);
  ASSERT_TRUE(bogus.ok());
  auto unauthorized = (*bogus)->list(resources::configMaps(), ns(), {});
  ASSERT_FALSE(unauthorized.ok());
  EXPECT_TRUE(unauthorized.error().isUnauthorized()) << unauthorized.error().describe();
}

TEST_F(ClientIntegrationTest, ClusterScopedResources) {
  auto nodes = client().list(resources::nodes(), "", {});
  ASSERT_TRUE(nodes.ok()) << nodes.error().describe();
  EXPECT_GE((*nodes)["items"].size(), 1u);
  auto node = client().get(resources::nodes(), "", objectName((*nodes)["items"][0]));
  EXPECT_TRUE(node.ok());
  auto namespace_object = client().get(resources::namespaces(), "", ns());
  ASSERT_TRUE(namespace_object.ok());
  EXPECT_EQ((*namespace_object)["status"]["phase"], "Active");
}

TEST_F(ClientIntegrationTest, UnreachableServerIsATransportError) {
  ClientConfig config = adminConfig();
  config.server = "https://127.0.0.1:1";
  auto client = Client::fromConfig(config);
  ASSERT_TRUE(client.ok());
  auto version = (*client)->serverVersion();
  ASSERT_FALSE(version.ok());
  EXPECT_EQ(version.error().reason, "TransportError");
  EXPECT_TRUE(version.error().isTransient());
}

TEST_F(ClientIntegrationTest, WrongCertificateAuthorityFailsTls) {
  ClientConfig config = adminConfig();
  config.tls.ca_pem = config.tls.client_cert_pem;  // a certificate, but not the CA
  auto client = Client::fromConfig(config);
  ASSERT_TRUE(client.ok());
  auto version = (*client)->serverVersion();
  ASSERT_FALSE(version.ok());
  EXPECT_EQ(version.error().reason, "TransportError");
}

TEST_F(ClientIntegrationTest, AConfiguredCaIsTheOnlyOneTrusted) {
  // The cluster's CA stands in for a public CA in the system store (OpenSSL reads SSL_CERT_FILE for it).
  const std::string system_store = ::testing::TempDir() + "system-store.pem";
  std::ofstream(system_store) << adminConfig().tls.ca_pem;
  ::setenv("SSL_CERT_FILE", system_store.c_str(), 1);
  struct Restore {
    ~Restore() { ::unsetenv("SSL_CERT_FILE"); }
  } restore;
  // Control: with no CA configured the system store is used, and it trusts the server.
  ClientConfig system_only = adminConfig();
  system_only.tls.ca_pem.clear();
  auto trusting = Client::fromConfig(system_only);
  ASSERT_TRUE(trusting.ok());
  ASSERT_TRUE((*trusting)->serverVersion().ok()) << "the stand-in system store is not in effect; the test proves nothing";
  // A configured CA that did not sign the server: refused, although the system store would accept it.
  ClientConfig pinned = adminConfig();
  pinned.tls.ca_pem = pinned.tls.client_cert_pem;
  auto client = Client::fromConfig(pinned);
  ASSERT_TRUE(client.ok());
  auto version = (*client)->serverVersion();
  ASSERT_FALSE(version.ok()) << "a configured CA must replace the system store, not add to it";
  EXPECT_EQ(version.error().reason, "TransportError");
}

}  // namespace
}  // namespace warren::kube
