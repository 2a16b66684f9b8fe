// CountingServiceReconciler on an in-memory API server: InvalidSpec,
// NotOwned, the start time stamped once, and restricted pods.
#include <gtest/gtest.h>

#include "api/broker_cluster.h"
#include "cache_support.h"
#include "controllers/counting_service_controller.h"
#include "fake_client.h"
#include "runtime/object_helpers.h"

namespace warren::controllers {
namespace {

using json = nlohmann::json;

class CountingServiceReconcilerTest : public ::testing::Test {
 protected:
  CountingServiceReconcilerTest()
      : client_(std::make_shared<testing::FakeClient>()),
        services_(testing::emptyCache(countingServices())),
        clusters_(testing::emptyCache(api::brokerClusters())),
        deployments_(testing::emptyCache(kube::resources::deployments())),
        reconciler_(client_, services_, clusters_, deployments_) {
    testing::cacheObject(*clusters_, client_->seed(api::brokerClusters(), json::parse(R"({
        "metadata": {"name": "bus", "namespace": "ns"}, "spec": {"mqtt": {"enabled": true}},
        "status": {"activeNode": "rabbit@bus-server-0.bus-nodes.ns"}})")));
    client_->seed(kube::resources::secrets(), {{"metadata", {{"name", "bus-default-user"}, {"namespace", "ns"}}},
                                               {"data", {{"username", "dQ=="}, {"password", "cA=="}}}});
  }
  json service(const json& spec) {
    json s = {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "CountingService"}, {"metadata", {{"name", "demo"}, {"namespace", "ns"}}}};
    if (!spec.is_discarded()) s["spec"] = spec;
    const json stored = client_->seed(countingServices(), s);
    testing::cacheObject(*services_, stored);
    return stored;
  }
  json stored() { return client_->stored(countingServices(), "ns", "demo"); }
  json condition(const std::string& type) {
    const json object = stored();
    const json* c = runtime::findCondition(object["status"]["conditions"], type);
    return c ? *c : json();
  }

  std::shared_ptr<testing::FakeClient> client_;
  std::shared_ptr<runtime::Informer> services_, clusters_, deployments_;
  CountingServiceReconciler reconciler_;
};

TEST_F(CountingServiceReconcilerTest, AStoredSpecOfTheWrongShapeIsReported) {
  for (const json& spec : {json(json::value_t::discarded), json(nullptr), json{{"brokerClusterRef", "bus"}},
                           json{{"brokerClusterRef", {{"name", "bus"}}}, {"intervalSeconds", "1"}}}) {
    service(spec);
    client_->clearCalls();
    ASSERT_TRUE(reconciler_.reconcile({"ns", "demo"}).ok());
    EXPECT_EQ(condition("Ready")["reason"], "InvalidSpec") << spec.dump();
    EXPECT_EQ(client_->writes().size(), 1u);
  }
}

TEST_F(CountingServiceReconcilerTest, ConfiguresRestrictedProgramsAndStampsTheStartOnce) {
  service({{"brokerClusterRef", {{"name", "bus"}}}});
  ASSERT_TRUE(reconciler_.reconcile({"ns", "demo"}).ok());
  EXPECT_EQ(condition("Ready")["status"], "True");
  const std::string start = stored()["status"]["startTime"];
  const json deployment = client_->stored(kube::resources::deployments(), "ns", "demo-service");
  const json& pod = deployment["spec"]["template"]["spec"];
  EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);
  EXPECT_EQ(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
  EXPECT_EQ(pod["containers"][0]["securityContext"]["allowPrivilegeEscalation"], false);
  EXPECT_EQ(pod["containers"][0]["securityContext"]["capabilities"]["drop"], json::array({"ALL"}));
  // A second reconcile on the stale cache (no startTime yet) cannot stamp another start.
  auto again = reconciler_.reconcile({"ns", "demo"});
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.error().isConflict());
  EXPECT_EQ(stored()["status"]["startTime"], start);
}

TEST_F(CountingServiceReconcilerTest, AConfigSecretOfSomeoneElseIsNeverOverwritten) {
  const json theirs = client_->seed(kube::resources::secrets(), {{"metadata", {{"name", "demo-config"}, {"namespace", "ns"}}},
                                                                 {"data", {{"mine", "eA=="}}}});
  service({{"brokerClusterRef", {{"name", "bus"}}}});
  ASSERT_TRUE(reconciler_.reconcile({"ns", "demo"}).ok());
  EXPECT_EQ(condition("Ready")["reason"], "NotOwned");
  EXPECT_EQ(client_->stored(kube::resources::secrets(), "ns", "demo-config"), theirs);
  EXPECT_TRUE(client_->writesTo("deployments").empty());
}

}  // namespace
}  // namespace warren::controllers
