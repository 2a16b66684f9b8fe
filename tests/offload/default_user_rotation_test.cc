// Password rotation on a real RabbitMQ 4.0.5 node (loopback_cluster.h): the
// default-user Secret of a BrokerCluster gets a new password; warren applies
// it through the management API with the password it applied last, reports
// PasswordSynced, and from then on the broker takes the new password and
// refuses the old one; the configuration warren renders for an
// OffloadPipeline's coordinator carries the new one. Lives beside the offload
// tests because their loopback servers are what runs a broker here.
#include "amqp/connection.h"
#include "loopback_cluster.h"

namespace warren::offload {
namespace {

using namespace testing;
using namespace std::chrono_literals;

class DefaultUserRotationTest : public LoopbackClusterTest {
 protected:
  std::string passwordSynced(const char* field = "reason") {
    const json conditions = get(api::brokerClusters(), "offload-bus").value("/status/conditions"_json_pointer, json::array());
    const json* condition = runtime::findCondition(conditions, "PasswordSynced");
    return condition != nullptr ? condition->value(field, "") : "";
  }
  bool amqpAccepts(const std::string& password) {
    amqp::Endpoint endpoint;
    endpoint.host = "offload-bus." + ns() + ".svc";
    endpoint.username = listener_.username;
    endpoint.password = password;
    return amqp::Connection::open(endpoint, 5s).ok();
  }
};

TEST_F(DefaultUserRotationTest, ANewPasswordInTheSecretIsTheOneTheBrokerTakes) {
  ASSERT_NO_FATAL_FAILURE(applyBrokerCluster(OffloadServers::kSecretKey));
  ASSERT_TRUE(eventually([&] { return passwordSynced() == "InEffect"; }, 60s));
  const std::string old_password = listener_.password;
  ASSERT_TRUE(amqpAccepts(old_password));
  ASSERT_EQ(kubectl("apply -f " + example("pipeline.yaml").string()), 0) << tail("kubectl.log");
  ASSERT_TRUE(eventually([&] { return conditionOf("Ready") == "True"; }, 90s)) << pipeline()["status"].dump(2);

  const std::string new_password = "rotated-" + std::to_string(std::random_device{}());
  json user = get(kube::resources::secrets(), "offload-bus-default-user");
  user["data"]["password"] = kube::base64Encode(new_password);
  ASSERT_TRUE(client().update(kube::resources::secrets(), ns(), user, {}).ok());

  auto rotated = [&] {
    auto events = client().list(kube::resources::events(), ns(), {});
    return events.ok() && events->dump().find("PasswordRotated") != std::string::npos;
  };
  ASSERT_TRUE(eventually(rotated, 60s))
      << get(api::brokerClusters(), "offload-bus")["status"].dump(2) << "\nrecord: "
      << get(kube::resources::secrets(), "offload-bus-default-user-applied")["metadata"].dump() << "\nuser: "
      << get(kube::resources::secrets(), "offload-bus-default-user")["metadata"].dump();
  EXPECT_EQ(passwordSynced(), "InEffect");
  EXPECT_TRUE(amqpAccepts(new_password));
  EXPECT_FALSE(amqpAccepts(old_password));
  auto events = client().list(kube::resources::events(), ns(), {});
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->dump().find(new_password), std::string::npos);
  // The pipeline's coordinator config follows: its URI carries the new password.
  ASSERT_TRUE(eventually([&] {
    const auto env = secretEnv("orders-coordinator-config");
    return std::any_of(env.begin(), env.end(), [&](const std::string& line) {
      return line.rfind("WARREN_AMQP_URI=", 0) == 0 && line.find(":" + new_password + "@") != std::string::npos;
    });
  }, 60s));
  // And a pipeline still reaches the broker with it.
  ASSERT_TRUE(eventually([&] { return conditionOf("TopologyReady") == "True"; }, 60s));
}

}  // namespace
}  // namespace warren::offload
