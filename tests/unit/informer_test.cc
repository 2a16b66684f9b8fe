#include "runtime/informer.h"

#include "runtime/object_helpers.h"

#include <gtest/gtest.h>

namespace warren::runtime {
namespace {

using json = nlohmann::json;

json pod(const std::string& name, const std::string& rv, const std::string& owner_uid = "") {
  json p = {{"metadata", {{"name", name}, {"namespace", "n"}, {"resourceVersion", rv},
                          {"managedFields", json::array({{{"manager", "x"}}})}}}};
  if (!owner_uid.empty()) {
    p["metadata"]["ownerReferences"] = json::array({{{"uid", owner_uid}, {"controller", true}}});
  }
  return p;
}

class InformerTest : public ::testing::Test {
 protected:
  InformerTest() : informer_(nullptr, InformerOptions{kube::resources::pods(), "", "", ""}) {
    informer_.addHandler({[this](const ObjectPtr& o) { log_.push_back("add " + objectKey(*o)); },
                          [this](const ObjectPtr& old_object, const ObjectPtr& o) {
                            log_.push_back("update " + objectKey(*o) + " " +
                                           (*old_object)["metadata"].value("resourceVersion", "") + "->" +
                                           (*o)["metadata"].value("resourceVersion", ""));
                          },
                          [this](const ObjectPtr& o) { log_.push_back("delete " + objectKey(*o)); }});
  }
  void relist(std::vector<json> objects) {
    informer_.apply({WatcherEvent::Type::kInit, {}});
    for (auto& o : objects) informer_.apply({WatcherEvent::Type::kInitApply, o});
    informer_.apply({WatcherEvent::Type::kInitDone, {}});
  }

  Informer informer_;
  std::vector<std::string> log_;
};

TEST_F(InformerTest, InitialListSyncsAndNotifiesAdds) {
  EXPECT_FALSE(informer_.hasSynced());
  relist({pod("a", "1"), pod("b", "2")});
  EXPECT_TRUE(informer_.hasSynced());
  EXPECT_EQ(informer_.store().size(), 2u);
  EXPECT_EQ(log_.size(), 2u);
  // managedFields are not kept in memory.
  EXPECT_FALSE((*informer_.store().get("n/a"))["metadata"].contains("managedFields"));
  // List items get the apiVersion and kind their list omitted.
  EXPECT_EQ((*informer_.store().get("n/a"))["kind"], "Pod");
  EXPECT_EQ((*informer_.store().get("n/a"))["apiVersion"], "v1");
}

TEST_F(InformerTest, RelistSwapsAtomicallyAndReportsTheDifference) {
  relist({pod("a", "1"), pod("b", "2"), pod("c", "3")});
  log_.clear();
  informer_.apply({WatcherEvent::Type::kInit, {}});
  informer_.apply({WatcherEvent::Type::kInitApply, pod("a", "1")});
  informer_.apply({WatcherEvent::Type::kInitApply, pod("b", "5")});
  // Until InitDone the old contents stay visible.
  EXPECT_EQ(informer_.store().size(), 3u);
  informer_.apply({WatcherEvent::Type::kInitApply, pod("d", "6")});
  informer_.apply({WatcherEvent::Type::kInitDone, {}});
  std::sort(log_.begin(), log_.end());
  EXPECT_EQ(log_, (std::vector<std::string>{"add n/d", "delete n/c", "update n/b 2->5"}));
  EXPECT_EQ(informer_.store().size(), 3u);
}

TEST_F(InformerTest, WatchEventsUpdateTheStore) {
  relist({});
  informer_.apply({WatcherEvent::Type::kApply, pod("a", "1")});
  informer_.apply({WatcherEvent::Type::kApply, pod("a", "2")});
  informer_.apply({WatcherEvent::Type::kDelete, pod("a", "3")});
  EXPECT_EQ(log_, (std::vector<std::string>{"add n/a", "update n/a 1->2", "delete n/a"}));
  EXPECT_EQ(informer_.store().size(), 0u);
}

TEST(InformerTransformTest, CachesOnlyWhatTheTransformKeeps) {
  InformerOptions options{kube::resources::pods(), "", "", ""};
  options.transform = [](json& object) { pruneTo(object, {"/status/phase"_json_pointer}); };
  Informer informer(nullptr, options);
  json big = pod("a", "1");
  big["spec"] = {{"containers", json::array({{{"name", "rabbitmq"}, {"image", "rabbitmq:4.1"}}})}};
  big["status"] = {{"phase", "Running"}, {"podIP", "10.0.0.1"}};
  informer.apply({WatcherEvent::Type::kInit, {}});
  informer.apply({WatcherEvent::Type::kInitApply, big});
  informer.apply({WatcherEvent::Type::kInitDone, {}});
  informer.apply({WatcherEvent::Type::kApply, pod("b", "2")});
  const ObjectPtr kept = informer.store().get("n/a");  // reads return an object the caller owns
  ASSERT_NE(kept, nullptr);
  const json& cached = *kept;
  EXPECT_EQ(cached["status"], (json{{"phase", "Running"}}));
  EXPECT_FALSE(cached.contains("spec"));
  EXPECT_EQ(cached["metadata"]["name"], "a");  // metadata always stays, for keys and indexes
  EXPECT_EQ(cached["kind"], "Pod");
  EXPECT_FALSE((*informer.store().get("n/b")).contains("status"));  // watch events too; absent stays absent
}

// The store holds objects packed: what comes back equals what went in (numbers, nulls, nesting), and an
// update files the object under its new index values only.
TEST(InformerStoreTest, PackedObjectsComeBackEqualAndIndexesFollowUpdates) {
  Informer informer(nullptr, InformerOptions{kube::resources::pods(), "", "", ""});
  informer.addIndex("node", [](const json& object) {
    return std::vector<std::string>{object.value("/spec/nodeName"_json_pointer, std::string())};
  });
  json first = pod("a", "1");
  first["spec"] = {{"nodeName", "n1"}, {"priority", -3}, {"overhead", nullptr}, {"weight", 0.5},
                   {"list", {1, "two", json::object(), json::array()}}};
  informer.apply({WatcherEvent::Type::kApply, first});
  EXPECT_EQ((*informer.store().get("n/a"))["spec"], first["spec"]);
  json moved = first;
  moved["metadata"]["resourceVersion"] = "2";
  moved["spec"]["nodeName"] = "n2";
  informer.apply({WatcherEvent::Type::kApply, moved});
  EXPECT_TRUE(informer.store().byIndex("node", "n1").empty());
  ASSERT_EQ(informer.store().byIndex("node", "n2").size(), 1u);
  EXPECT_EQ((*informer.store().byIndex("node", "n2")[0])["spec"], moved["spec"]);
}

// A heartbeat the transform drops changes nothing a handler could see: the store takes the new
// resourceVersion, no handler runs; a real change still reaches them.
TEST(InformerTransformTest, UpdatesThatOnlyChangeTheResourceVersionWakeNoHandlerWhenAsked) {
  InformerOptions options{kube::resources::nodes(), "", "", ""};
  options.transform = [](json& object) { pruneTo(object, {"/status/ready"_json_pointer}); };
  options.skip_unchanged_updates = true;
  Informer informer(nullptr, options);
  int updates = 0;
  informer.addHandler({nullptr, [&](const ObjectPtr&, const ObjectPtr&) { ++updates; }, nullptr});
  auto node = [](const std::string& rv, bool ready, const std::string& heartbeat) {
    return json{{"metadata", {{"name", "n1"}, {"resourceVersion", rv}}},
                {"status", {{"ready", ready}, {"heartbeat", heartbeat}}}};
  };
  informer.apply({WatcherEvent::Type::kApply, node("1", true, "10:00:00")});
  informer.apply({WatcherEvent::Type::kApply, node("2", true, "10:00:10")});
  EXPECT_EQ(updates, 0);
  EXPECT_EQ((*informer.store().get("n1"))["metadata"]["resourceVersion"], "2");
  informer.apply({WatcherEvent::Type::kApply, node("3", false, "10:00:20")});
  EXPECT_EQ(updates, 1);
}

TEST(StoreTest, IndexesByNamespaceOwnerAndCustom) {
  Store store;
  store.addIndex(kNamespaceIndex, namespaceIndex);
  store.addIndex(kControllerUidIndex, controllerUidIndex);
  store.addIndex("by-color", [](const json& o) {
    return std::vector<std::string>{o.value("/spec/color"_json_pointer, std::string("none"))};
  });
  auto make = [](std::string ns, std::string name, std::string owner, std::string color) {
    json o = {{"metadata", {{"name", name}, {"namespace", ns}, {"resourceVersion", "1"}}}, {"spec", {{"color", color}}}};
    if (!owner.empty()) o["metadata"]["ownerReferences"] = json::array({{{"uid", owner}, {"controller", true}}});
    return std::make_shared<const json>(o);
  };
  store.upsert(make("x", "a", "u1", "red"));
  store.upsert(make("x", "b", "u1", "blue"));
  store.upsert(make("y", "c", "u2", "red"));
  EXPECT_EQ(store.byIndex(kNamespaceIndex, "x").size(), 2u);
  EXPECT_EQ(store.byIndex(kControllerUidIndex, "u1").size(), 2u);
  EXPECT_EQ(store.byIndex("by-color", "red").size(), 2u);
  store.upsert(make("x", "a", "u1", "blue"));  // re-indexed on update
  EXPECT_EQ(store.byIndex("by-color", "red").size(), 1u);
  store.remove(*make("x", "b", "", ""));
  EXPECT_EQ(store.byIndex(kControllerUidIndex, "u1").size(), 1u);
  EXPECT_TRUE(store.byIndex("missing-index", "x").empty());
}

TEST_F(InformerTest, KubectlLastAppliedAnnotationIsDroppedOthersKept) {
  json a = pod("a", "1");
  a["metadata"]["annotations"] = {{"kubectl.kubernetes.io/last-applied-configuration", "{\"big\":1}"}, {"team", "x"}};
  json b = pod("b", "1");
  b["metadata"]["annotations"] = {{"kubectl.kubernetes.io/last-applied-configuration", "{}"}};
  relist({a, b});
  EXPECT_EQ((*informer_.store().get("n/a"))["metadata"]["annotations"], (json{{"team", "x"}}));
  EXPECT_FALSE((*informer_.store().get("n/b"))["metadata"].contains("annotations"));
}

TEST(StoreTest, NoIndexIsBuiltIn) {
  Store store;
  store.upsert(std::make_shared<const json>(json{{"metadata", {{"name", "a"}, {"namespace", "x"}}}}));
  EXPECT_TRUE(store.byIndex(kNamespaceIndex, "x").empty());
  EXPECT_TRUE(store.pack(json{{"metadata", {{"name", "a"}, {"namespace", "x"}}}}).indexed.empty());
}

TEST(InformerBoundaryTest, ThrowingTransformsIndexesAndHandlersAreSkippedNotFatal) {
  InformerOptions options{kube::resources::pods(), "", "", ""};
  options.transform_name = "throws-on-b";
  options.transform = [](json& object) {
    if (object["metadata"]["name"] == "b") throw std::runtime_error("transform failed");
    object["transformed"] = true;
  };
  Informer informer(nullptr, options);
  informer.addIndex("throws", [](const json& object) -> std::vector<std::string> {
    if (object["metadata"]["name"] == "c") throw std::runtime_error("index failed");
    return {"all"};
  });
  std::vector<std::string> seen;
  informer.addHandler({[&](const ObjectPtr& o) {
                         if ((*o)["metadata"]["name"] == "a") throw std::runtime_error("handler failed");
                         seen.push_back(objectKey(*o));
                       },
                       nullptr, nullptr});
  for (const char* name : {"a", "b", "c", "d"}) {
    EXPECT_NO_THROW(informer.apply({WatcherEvent::Type::kApply, pod(name, "1")}));
  }
  // Every object is cached (b as it came), the others' handlers ran, c is only missing from the index.
  EXPECT_EQ(informer.store().size(), 4u);
  EXPECT_FALSE(informer.store().get("n/b")->contains("transformed"));
  EXPECT_TRUE(informer.store().get("n/a")->contains("transformed"));
  EXPECT_EQ(seen, (std::vector<std::string>{"n/b", "n/c", "n/d"}));
  EXPECT_EQ(informer.store().byIndex("throws", "all").size(), 3u);
}

}  // namespace
}  // namespace warren::runtime
