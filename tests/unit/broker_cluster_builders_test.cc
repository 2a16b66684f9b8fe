// Golden files for every child of two BrokerCluster specs (seed 000's two
// MQTT nodes; seed 001's three quorum nodes with most options set). Run with
// WARREN_UPDATE_GOLDEN=1 to rewrite the files after an intended change, and
// review the diff; a run that rewrote a file fails, so the test can never
// pass by updating.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/broker_cluster.h"
#include "builders/broker_cluster_children.h"
#include "runtime/object_helpers.h"

namespace warren::builders {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

const std::filesystem::path kTestdata = std::filesystem::path(WARREN_TESTDATA) / "brokercluster";

json readJson(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str(), nullptr, false);
}

api::BrokerCluster load(const std::string& name) {
  auto parsed = api::parseBrokerCluster(readJson(kTestdata / (name + ".json")));
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  return *parsed;
}

void expectGolden(const std::string& fixture, const std::string& child, const json& actual) {
  const auto path = kTestdata / "golden" / fixture / (child + ".json");
  const json expected = readJson(path);
  if (std::getenv("WARREN_UPDATE_GOLDEN") != nullptr && (expected.is_discarded() || expected != actual)) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << actual.dump(2) << "\n";
    ADD_FAILURE() << "rewrote " << path << ": review the diff and run again without WARREN_UPDATE_GOLDEN";
    return;
  }
  ASSERT_FALSE(expected.is_discarded()) << "missing golden file " << path;
  EXPECT_EQ(actual, expected) << fixture << "/" << child << " differs from " << path
                              << "\nactual:\n" << actual.dump(2);
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, EveryChildMatchesItsGoldenFile) {
  const api::BrokerCluster cluster = load(GetParam());
  expectGolden(GetParam(), "headless-service", buildHeadlessService(cluster));
  expectGolden(GetParam(), "client-service", buildClientService(cluster));
  expectGolden(GetParam(), "configmap", buildConfigMap(cluster));
  expectGolden(GetParam(), "statefulset", buildStatefulSet(cluster));
  expectGolden(GetParam(), "pdb", buildPodDisruptionBudget(cluster));
  expectGolden(GetParam(), "erlang-cookie-secret", buildErlangCookieSecret(cluster, "fixed-cookie-for-golden-file-0123456789"));
  expectGolden(GetParam(), "default-user-secret", buildDefaultUserSecret(cluster, "user-fixed", "password-fixed"));
}

INSTANTIATE_TEST_SUITE_P(Seeds, GoldenTest, ::testing::Values("seed000", "seed001"));

// A node of a multi-node cluster waits, within the grace period, until its quorum queues keep a majority
// without it, then drains; a single node has nothing to hand over.
TEST(BrokerClusterStatefulSetTest, PreStopHandsOverWithinTheGracePeriod) {
  api::BrokerCluster cluster = load("seed001");
  cluster.spec.termination_grace_period_seconds = 120;
  const json rabbitmq = buildStatefulSet(cluster)["spec"]["template"]["spec"]["containers"][0];
  const std::string script = rabbitmq["lifecycle"]["preStop"]["exec"]["command"][2];
  EXPECT_THAT(script, HasSubstr("await_online_quorum_plus_one -t 100 "));
  EXPECT_THAT(script, HasSubstr("drain -t 10 "));
  cluster.spec.termination_grace_period_seconds = 10;
  const std::string short_grace =
      buildStatefulSet(cluster)["spec"]["template"]["spec"]["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][2];
  EXPECT_THAT(short_grace, ::testing::Not(HasSubstr("await_online_quorum_plus_one")));
  EXPECT_THAT(short_grace, HasSubstr("drain -t 5 "));
  cluster.spec.replicas = 1;
  EXPECT_FALSE(buildStatefulSet(cluster)["spec"]["template"]["spec"]["containers"][0].contains("lifecycle"));
}

// The forget Job: the cluster's image, its cookie and long node names; the node names are arguments of the
// script, never spliced into it; restricted like the brokers; no broker label on its pod.
TEST(BrokerClusterForgetJobTest, RunsForgetClusterNodeThroughARunningMember) {
  api::BrokerCluster cluster = load("seed001");
  const json job = buildForgetNodesJob(cluster, cluster.nodeName(0), {cluster.nodeName(3), cluster.nodeName(4)});
  EXPECT_EQ(job["metadata"]["name"], cluster.name + "-forget-nodes");
  EXPECT_EQ(job["metadata"]["annotations"][kDepartedNodesAnnotation], cluster.nodeName(3) + "," + cluster.nodeName(4));
  EXPECT_EQ(job["metadata"]["ownerReferences"][0]["kind"], "BrokerCluster");
  const json pod = job["spec"]["template"]["spec"];
  const json container = pod["containers"][0];
  EXPECT_EQ(container["image"], cluster.spec.image);
  EXPECT_EQ(container["command"], json::array({"sh", "-c", container["command"][2], "forget-nodes", cluster.nodeName(0),
                                               cluster.nodeName(3), cluster.nodeName(4)}));
  const std::string script = container["command"][2];
  EXPECT_THAT(script, HasSubstr("forget_cluster_node \"$node\""));
  EXPECT_THAT(script, ::testing::Not(HasSubstr(cluster.name)));
  EXPECT_EQ(pod["subdomain"], cluster.headlessServiceName());
  EXPECT_EQ(pod["restartPolicy"], "Never");
  EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);
  EXPECT_EQ(container["securityContext"]["allowPrivilegeEscalation"], false);
  EXPECT_EQ(pod["volumes"][1]["secret"]["secretName"], cluster.erlangCookieSecretName());
  const json labels = job["spec"]["template"]["metadata"]["labels"];
  EXPECT_FALSE(labels.contains(api::kClusterLabel));
  bool selected = true;
  for (const auto& [key, value] : cluster.selectorLabels()) selected = selected && labels.value(key, "") == value;
  EXPECT_FALSE(selected) << "the brokers' Services and PodDisruptionBudget would select the Job's pod";
}

TEST(BrokerClusterConfigTest, PeerDiscoveryUsesTheStatefulSetDnsNames) {
  const auto cluster = load("seed000");
  const std::string conf = renderRabbitmqConf(cluster);
  EXPECT_THAT(conf, HasSubstr("cluster_formation.peer_discovery_backend = classic_config\n"));
  EXPECT_THAT(conf, HasSubstr("cluster_formation.classic_config.nodes.1 = rabbit@counting-server-0.counting-nodes.demo\n"));
  EXPECT_THAT(conf, HasSubstr("cluster_formation.classic_config.nodes.2 = rabbit@counting-server-1.counting-nodes.demo\n"));
  EXPECT_THAT(conf, ::testing::Not(HasSubstr("nodes.3")));
  EXPECT_THAT(conf, HasSubstr("mqtt.listeners.tcp.default = 1883\n"));
  // MQTT on and no default queue type asked for: classic, so that RabbitMQ
  // 4.0 accepts clean-session subscriptions (their queues are exclusive).
  EXPECT_THAT(conf, HasSubstr("default_queue_type = classic\n"));
  EXPECT_THAT(renderRabbitmqConf(load("seed001")), HasSubstr("default_queue_type = quorum\n"));
  auto asked = cluster;
  asked.spec.default_queue_type = "quorum";
  EXPECT_THAT(renderRabbitmqConf(asked), HasSubstr("default_queue_type = quorum\n")) << "what is asked for is rendered";
  // Two nodes: the survivor of a failure must keep running.
  EXPECT_THAT(conf, HasSubstr("cluster_partition_handling = autoheal\n"));
  EXPECT_THAT(renderRabbitmqConf(load("seed001")), HasSubstr("cluster_partition_handling = pause_minority\n"));
  EXPECT_EQ(renderEnabledPlugins(cluster), "[rabbitmq_management,rabbitmq_prometheus,rabbitmq_mqtt].\n");
}

TEST(BrokerClusterConfigTest, ChecksumIgnoresScaleButNotConfig) {
  auto cluster = load("seed000");
  const std::string base = configChecksum(cluster);
  cluster.spec.replicas = 5;  // the peer list grows; running nodes need no restart
  EXPECT_EQ(configChecksum(cluster), base);
  cluster.spec.additional_config = "heartbeat = 30\n";
  EXPECT_NE(configChecksum(cluster), base);
  cluster.spec.additional_config.clear();
  cluster.spec.mqtt_enabled = false;
  EXPECT_NE(configChecksum(cluster), base);
}

TEST(BrokerClusterConfigTest, NoCredentialInTheConfigMapOrTheStatefulSet) {
  const auto cluster = load("seed000");
  const std::string everything = buildConfigMap(cluster).dump() + buildStatefulSet(cluster).dump();
  EXPECT_THAT(everything, ::testing::Not(HasSubstr("password-fixed")));
  EXPECT_THAT(everything, ::testing::Not(HasSubstr("fixed-cookie")));
  EXPECT_THAT(everything, HasSubstr("secretName"));
}

// Every spec field with a bad value is reported, naming the field.
TEST(BrokerClusterParseTest, BadValuesNameTheField) {
  const json good = readJson(kTestdata / "seed000.json");
  struct Case { const char* pointer; json value; const char* field; };
  const std::vector<Case> cases = {
      {"/spec/replicas", 0, "spec.replicas"},
      {"/spec/replicas", 10, "spec.replicas"},
      {"/spec/replicas", "three", "spec.replicas"},
      {"/spec/allowScaleDown", "yes", "spec.allowScaleDown"},
      {"/spec/image", "", "spec.image"},
      {"/spec/image", 7, "spec.image"},
      {"/spec/persistence/storage", "ten gigs", "spec.persistence.storage"},
      {"/spec/persistence/ephemeral", "no", "spec.persistence.ephemeral"},
      {"/spec/rabbitmq/additionalPlugins", json::array({"Bad-Plugin"}), "spec.rabbitmq.additionalPlugins[0]"},
      {"/spec/rabbitmq/additionalPlugins", "rabbitmq_shovel", "spec.rabbitmq.additionalPlugins"},
      {"/spec/rabbitmq/additionalConfig", "frame_max 131072", "spec.rabbitmq.additionalConfig"},
      {"/spec/mqtt/port", 0, "spec.mqtt.port"},
      {"/spec/mqtt/port", 70000, "spec.mqtt.port"},
      {"/spec/mqtt/enabled", "on", "spec.mqtt.enabled"},
      {"/spec/failover/unhealthyAfterSeconds", "5s", "spec.failover.unhealthyAfterSeconds"},
      {"/spec/terminationGracePeriodSeconds", "1m", "spec.terminationGracePeriodSeconds"},
      {"/spec/secrets/erlangCookieSecretName", 3, "spec.secrets.erlangCookieSecretName"},
  };
  for (const auto& c : cases) {
    json object = good;
    object[json::json_pointer(c.pointer)] = c.value;
    auto parsed = api::parseBrokerCluster(object);
    ASSERT_FALSE(parsed.ok()) << c.pointer << " = " << c.value.dump();
    EXPECT_EQ(parsed.error().reason, "InvalidSpec");
    EXPECT_TRUE(parsed.error().terminal);
    EXPECT_THAT(parsed.error().message, HasSubstr(c.field)) << c.pointer;
  }
  json long_name = good;
  long_name["metadata"]["name"] = std::string(41, 'a');
  EXPECT_FALSE(api::parseBrokerCluster(long_name).ok());
}

TEST(ContainsAllTest, LiveObjectsWithServerDefaults) {
  const json desired = {{"spec", {{"ports", {{{"name", "amqp"}, {"port", 5672}}}}, {"type", "ClusterIP"}}}};
  json live = {{"spec", {{"ports", {{{"name", "amqp"}, {"port", 5672}, {"protocol", "TCP"}}}},
                         {"type", "ClusterIP"}, {"clusterIP", "10.96.0.7"}}}};
  EXPECT_TRUE(runtime::containsAll(live, desired));
  live["spec"]["ports"].push_back({{"name", "extra"}});
  EXPECT_FALSE(runtime::containsAll(live, desired));
  EXPECT_FALSE(runtime::containsAll(json{{"spec", {{"type", "NodePort"}}}}, desired));
  EXPECT_TRUE(runtime::containsAll(json{{"a", 1.0}}, json{{"a", 1}}));
  EXPECT_TRUE(runtime::containsAll(json::object(), json{{"emptyDir", json::object()}}));
}

}  // namespace
}  // namespace warren::builders
