#include "kube/request_builder.h"

#include <gtest/gtest.h>

namespace warren::kube {
namespace {

const ResourceType kWidgets{"example.com", "v1alpha1", "Widget", "widgets", true};
const ResourceType kClusterThings{"example.com", "v1", "Thing", "things", false};

TEST(ResourcePathTest, CoreGroupAndNamespaces) {
  EXPECT_EQ(collectionPath(resources::configMaps(), "ns1"), "/api/v1/namespaces/ns1/configmaps");
  EXPECT_EQ(collectionPath(resources::configMaps(), ""), "/api/v1/configmaps");
  EXPECT_EQ(objectPath(resources::pods(), "ns1", "p", "status"),
            "/api/v1/namespaces/ns1/pods/p/status");
  EXPECT_EQ(objectPath(resources::nodes(), "ignored", "n1"), "/api/v1/nodes/n1");
}

TEST(ResourcePathTest, NamedGroupsAndCustomResources) {
  EXPECT_EQ(objectPath(resources::statefulSets(), "a", "web", "scale"),
            "/apis/apps/v1/namespaces/a/statefulsets/web/scale");
  EXPECT_EQ(collectionPath(kWidgets, "x"), "/apis/example.com/v1alpha1/namespaces/x/widgets");
  EXPECT_EQ(objectPath(kClusterThings, "", "t"), "/apis/example.com/v1/things/t");
  EXPECT_EQ(kWidgets.apiVersion(), "example.com/v1alpha1");
  EXPECT_EQ(resources::configMaps().apiVersion(), "v1");
  EXPECT_EQ(resources::statefulSets().qualifiedName(), "statefulsets.apps");
}

TEST(ResourcePathTest, NamesAreEscaped) {
  EXPECT_EQ(objectPath(resources::configMaps(), "n", "a b/c"), "/api/v1/namespaces/n/configmaps/a%20b%2Fc");
}

TEST(RequestBuilderTest, GetHasNoBody) {
  const auto request = requests::get(resources::configMaps(), "n", "c");
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.verb, "get");
  EXPECT_TRUE(request.body.empty());
  EXPECT_TRUE(request.content_type.empty());
  EXPECT_EQ(request.target(), "/api/v1/namespaces/n/configmaps/c");
}

TEST(RequestBuilderTest, ListCarriesSelectorsAndPagination) {
  ListOptions options;
  options.label_selector = "app=warren,tier in (a,b)";
  options.field_selector = "metadata.name=x";
  options.limit = 500;
  options.continue_token = "abc==";
  options.resource_version = "0";
  options.resource_version_match = "NotOlderThan";
  const auto request = requests::list(resources::pods(), "", options);
  EXPECT_EQ(request.verb, "list");
  EXPECT_EQ(request.target(),
            "/api/v1/pods?labelSelector=app%3Dwarren%2Ctier%20in%20%28a%2Cb%29"
            "&fieldSelector=metadata.name%3Dx&limit=500&continue=abc%3D%3D&resourceVersion=0"
            "&resourceVersionMatch=NotOlderThan");
}

TEST(RequestBuilderTest, WatchAsksForBookmarksAndTimeout) {
  WatchOptions options;
  options.resource_version = "123";
  options.timeout_seconds = 300;
  const auto request = requests::watch(kWidgets, "ns", options);
  EXPECT_EQ(request.verb, "watch");
  EXPECT_EQ(request.queryValue("watch"), "1");
  EXPECT_EQ(request.queryValue("resourceVersion"), "123");
  EXPECT_EQ(request.queryValue("allowWatchBookmarks"), "true");
  EXPECT_EQ(request.queryValue("timeoutSeconds"), "300");
  options.allow_bookmarks = false;
  EXPECT_EQ(requests::watch(kWidgets, "ns", options).queryValue("allowWatchBookmarks"), "");
}

TEST(RequestBuilderTest, MetadataOnlyListsAndWatchesAskForPartialObjectMetadata) {
  auto accept = [](const HttpRequest& request) {
    std::string value;
    for (const auto& [name, v] : request.headers) {
      if (name == "Accept") value = v;
    }
    return value;
  };
  ListOptions list_options;
  EXPECT_EQ(accept(requests::list(resources::configMaps(), "ns", list_options)), "");
  list_options.metadata_only = true;
  EXPECT_EQ(accept(requests::list(resources::configMaps(), "ns", list_options)),
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json");
  WatchOptions watch_options;
  EXPECT_EQ(accept(requests::watch(resources::configMaps(), "ns", watch_options)), "");
  watch_options.metadata_only = true;
  EXPECT_EQ(accept(requests::watch(resources::configMaps(), "ns", watch_options)),
            "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json");
}

TEST(RequestBuilderTest, CreateAndUpdateSendJson) {
  const nlohmann::json object = {{"metadata", {{"name", "c"}, {"resourceVersion", "7"}}}};
  const auto create = requests::create(resources::configMaps(), "n", object, {"warren", true});
  EXPECT_EQ(create.method, "POST");
  EXPECT_EQ(create.path, "/api/v1/namespaces/n/configmaps");
  EXPECT_EQ(create.content_type, "application/json");
  EXPECT_EQ(nlohmann::json::parse(create.body), object);
  EXPECT_EQ(create.queryValue("fieldManager"), "warren");
  EXPECT_EQ(create.queryValue("dryRun"), "All");
  const auto update = requests::update(kWidgets, "n", "c", object, {}, "status");
  EXPECT_EQ(update.method, "PUT");
  EXPECT_EQ(update.path, "/apis/example.com/v1alpha1/namespaces/n/widgets/c/status");
  EXPECT_EQ(update.queryValue("fieldManager"), "");
}

TEST(RequestBuilderTest, ServerSideApply) {
  const nlohmann::json object = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}};
  const auto request = requests::apply(resources::configMaps(), "n", "c", object, {"warren", true});
  EXPECT_EQ(request.method, "PATCH");
  EXPECT_EQ(request.verb, "apply");
  EXPECT_EQ(request.content_type, "application/apply-patch+yaml");
  EXPECT_EQ(request.queryValue("fieldManager"), "warren");
  EXPECT_EQ(request.queryValue("force"), "true");
  EXPECT_EQ(requests::apply(resources::configMaps(), "n", "c", object, {"m", false}).queryValue("force"), "");
}

TEST(RequestBuilderTest, PatchContentTypes) {
  EXPECT_EQ(requests::patch(resources::pods(), "n", "p", PatchType::kMerge, {}).content_type,
            "application/merge-patch+json");
  EXPECT_EQ(requests::patch(resources::pods(), "n", "p", PatchType::kJson, nlohmann::json::array()).content_type,
            "application/json-patch+json");
  const auto strategic =
      requests::patch(resources::pods(), "n", "p", PatchType::kStrategicMerge, {}, {}, "status");
  EXPECT_EQ(strategic.content_type, "application/strategic-merge-patch+json");
  EXPECT_EQ(strategic.path, "/api/v1/namespaces/n/pods/p/status");
}

TEST(RequestBuilderTest, DeleteOptionsBody) {
  DeleteOptions options;
  options.propagation = PropagationPolicy::kForeground;
  options.precondition_uid = "u-1";
  options.precondition_resource_version = "42";
  options.grace_period_seconds = 0;
  const auto request = requests::remove(resources::statefulSets(), "n", "s", options);
  EXPECT_EQ(request.method, "DELETE");
  const auto body = nlohmann::json::parse(request.body);
  EXPECT_EQ(body["kind"], "DeleteOptions");
  EXPECT_EQ(body["propagationPolicy"], "Foreground");
  EXPECT_EQ(body["preconditions"]["uid"], "u-1");
  EXPECT_EQ(body["preconditions"]["resourceVersion"], "42");
  EXPECT_EQ(body["gracePeriodSeconds"], 0);
  const auto plain = nlohmann::json::parse(requests::remove(resources::pods(), "n", "p").body);
  EXPECT_FALSE(plain.contains("propagationPolicy"));
  EXPECT_FALSE(plain.contains("preconditions"));
}

TEST(RequestBuilderTest, SubresourceCreate) {
  const auto request = requests::createSubresource(resources::serviceAccounts(), "n", "sa", "token",
                                                   {{"kind", "TokenRequest"}});
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.path, "/api/v1/namespaces/n/serviceaccounts/sa/token");
}

}  // namespace
}  // namespace warren::kube
