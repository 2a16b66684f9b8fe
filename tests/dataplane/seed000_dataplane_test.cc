// Seed 000 end to end, with real processes and the live operator: warren's
// controllers run against the local control plane (kwok pods stand in for
// the broker pods); two real rabbitmq-server nodes start with the cookie,
// default user and config warren rendered into the API; the real counting
// service and client run from the config Secret warren rendered, each in a
// network namespace of its own that resolves the pods' DNS names, as pods
// would. Then the active node's broker is stopped and its pod marked
// NotReady, as the kubelet would. warren moves the active node, rewrites the
// config and rolls both Deployments; the test plays the kubelet's part of
// the rollout (new config files, programs restarted). The client's counts
// carry on without a reset, with a gap bounded by the failover time.
// Runs once per protocol: MQTT (seed 000) and AMQP.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>

#include <gtest/gtest.h>

#include "controllers/counting_service_controller.h"
#include "dataplane_fixture.h"
#include "kube/tls_material.h"
#include "running_operator.h"

namespace warren::dataplane {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kClusterName = "seed000";
constexpr const char* kServiceName = "demo";

class Seed000Test : public DataPlaneTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    DataPlaneTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    const char* kubeconfig = std::getenv("WARREN_TEST_KUBECONFIG");
    if (kubeconfig == nullptr || *kubeconfig == '\0') {
      WARREN_CANNOT_RUN("dataplane", "needs the local control plane: run through hack/test.sh");
    }
    testing::installCrds();
    client_ = testing::LiveClusterTest::newAdminClient();
    ASSERT_NE(client_, nullptr);
    ns_ = "dp-seed000-" + GetParam() + "-" + std::to_string(std::random_device{}() % 100000);
    ASSERT_TRUE(client_->create(kube::resources::namespaces(), "",
                                {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns_}}}}, {}).ok());
  }

  void TearDown() override {
    operator_.reset();
    if (client_ && !ns_.empty()) (void)client_->remove(kube::resources::namespaces(), "", ns_, {});
    DataPlaneTest::TearDown();
  }

  json get(const kube::ResourceType& type, const std::string& name) {
    auto object = client_->get(type, ns_, name);
    return object ? *object : json::object();
  }
  std::string secretValue(const std::string& secret, const std::string& key) {
    const json object = get(kube::resources::secrets(), secret);
    auto decoded = kube::base64Decode(object.value("/data"_json_pointer, json::object()).value(key, ""));
    return decoded ? *decoded : std::string();
  }
  std::string checksumOf(const std::string& deployment) {
    return get(kube::resources::deployments(), deployment)
        .value("/spec/template/metadata/annotations/warren.dev~1config-checksum"_json_pointer, std::string());
  }

  // The kubelet's part: start the program in its pod's network namespace
  // with a /tmp of its own (where the client records what it receives)
  // holding the program and the config Secret's file.
  pid_t startProgram(const std::string& role, const std::string& program) {
    const std::filesystem::path tmp = root_ / role / "tmp";
    std::filesystem::create_directories(tmp);
    std::filesystem::copy_file(program, tmp / "program", std::filesystem::copy_options::overwrite_existing);
    std::ofstream(tmp / "config.json") << secretValue(std::string(kServiceName) + "-config", role + ".json");
    return spawnProgram({"/usr/sbin/ip", "netns", "exec", "wrn" + id_ + "-" + role, "/bin/sh", "-c",
                  "mount --bind \"$0\" /tmp && exec /tmp/program /tmp/config.json", tmp.string()},
                 root_ / role / "program.log");
  }
  std::filesystem::path received() const { return root_ / "client" / "tmp" / "received.log"; }

  std::shared_ptr<kube::Client> client_;
  std::string ns_;
  std::unique_ptr<testing::RunningOperator> operator_;
};

TEST_P(Seed000Test, CountingCarriesOnAcrossAFailoverDrivenByTheOperator) {
  const std::string protocol = GetParam();
  operator_ = std::make_unique<testing::RunningOperator>(ns_);
  ASSERT_TRUE(client_->create(api::brokerClusters(), ns_,
                              {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerCluster"},
                               {"metadata", {{"name", kClusterName}}},
                               {"spec", {{"replicas", 2}, {"mqtt", {{"enabled", protocol == "mqtt"}}},
                                         {"failover", {{"unhealthyAfterSeconds", 2}}}}}},
                              {}).ok());
  ASSERT_TRUE(eventually([&] {
    return get(api::brokerClusters(), kClusterName).value("/status/readyReplicas"_json_pointer, 0) == 2 &&
           !get(api::brokerClusters(), kClusterName).value("/status/activeNode"_json_pointer, std::string()).empty();
  }, 120s)) << get(api::brokerClusters(), kClusterName).dump();

  // Real brokers from what warren stored in the API.
  auto cluster = api::parseBrokerCluster(get(api::brokerClusters(), kClusterName));
  ASSERT_TRUE(cluster.ok());
  const std::string cookie = secretValue(cluster->erlangCookieSecretName(), "cookie");
  ASSERT_FALSE(cookie.empty());
  useRendered(*cluster, secretValue(cluster->defaultUserSecretName(), "username"),
              secretValue(cluster->defaultUserSecretName(), "password"),
              get(kube::resources::configMaps(), cluster->configMapName()));
  nodes_.reserve(2);
  start(0, cookie);
  start(1, cookie);
  const std::set<std::string> both = {cluster_.nodeName(0), cluster_.nodeName(1)};
  ASSERT_TRUE(eventually([&] { return runningNodes(nodes_[0]) == both; }, 180s)) << logTail(nodes_[0]);

  // The pair, from the config warren renders for it.
  ASSERT_TRUE(client_->create(controllers::countingServices(), ns_,
                              {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "CountingService"},
                               {"metadata", {{"name", kServiceName}}},
                               {"spec", {{"brokerClusterRef", {{"name", kClusterName}}}, {"protocol", protocol}}}},
                              {}).ok());
  const std::string service_deployment = std::string(kServiceName) + "-service";
  const std::string client_deployment = std::string(kServiceName) + "-client";
  ASSERT_TRUE(eventually([&] { return !checksumOf(service_deployment).empty() && !checksumOf(client_deployment).empty(); }, 60s));
  const std::string active = get(api::brokerClusters(), kClusterName)["status"]["activeNode"];
  const int first = testing::ordinalOfNode(active);
  const int second = testing::failoverTarget(first);
  const std::string hosts = podHostsFile(2);
  addNetworkNamespace("wrn" + id_ + "-service", subnet_ + ".30", hosts);
  addNetworkNamespace("wrn" + id_ + "-client", subnet_ + ".31", hosts);
  pid_t client = startProgram("client", WARREN_COUNTING_CLIENT);
  pid_t service = startProgram("service", WARREN_COUNTING_SERVICE);
  ASSERT_TRUE(eventually([&] { return readCounts(received()).size() >= 5; }, 60s))
      << "no counts before the failover; client log:\n" << logTail(root_ / "client" / "program.log")
      << "\nservice log:\n" << logTail(root_ / "service" / "program.log");

  // The active node dies: its broker stops and its pod turns NotReady.
  const auto before = readCounts(received());
  const std::string service_checksum = checksumOf(service_deployment);
  const std::string client_checksum = checksumOf(client_deployment);
  const auto failover_start = std::chrono::steady_clock::now();
  stop(nodes_[first]);
  const auto marked_not_ready = std::chrono::steady_clock::now();
  ASSERT_TRUE(testing::setPodReady(*client_, ns_, cluster_.podName(first), false).ok());

  // warren rolls both Deployments onto the other node; the test restarts
  // each program once its Deployment's template changed, as the kubelet would.
  ASSERT_TRUE(eventually([&] {
    return checksumOf(service_deployment) != service_checksum && checksumOf(client_deployment) != client_checksum;
  }, 60s)) << "warren did not roll the programs";
  const double reroute_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - marked_not_ready).count();
  const double stop_seconds = std::chrono::duration<double>(marked_not_ready - failover_start).count();
  const json config = json::parse(secretValue(std::string(kServiceName) + "-config", "client.json"));
  EXPECT_EQ(config["broker"]["host"], api::nodeHost(cluster_.nodeName(second)));
  EXPECT_EQ(config["broker"]["protocol"], protocol);
  stopProgram(client);
  stopProgram(service);
  client = startProgram("client", WARREN_COUNTING_CLIENT);
  service = startProgram("service", WARREN_COUNTING_SERVICE);
  const double restarted_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - failover_start).count();
  ASSERT_TRUE(eventually([&] { return readCounts(received()).size() >= before.size() + 5; }, 90s))
      << "no counts after the failover; client log:\n" << logTail(root_ / "client" / "program.log")
      << "\nservice log:\n" << logTail(root_ / "service" / "program.log");
  const double failover_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - failover_start).count();

  const auto after = readCounts(received());
  for (size_t i = 1; i < after.size(); ++i) ASSERT_GE(after[i], after[i - 1]) << "count went backwards at " << i;
  const long long last_before = before.back();
  const long long first_after = after[before.size()];
  EXPECT_GT(after.back(), last_before);
  // The gap is what the failover took, in 1 s intervals (plus slack for start-up).
  const long long gap = first_after - last_before;
  std::cout << protocol << ": the broker took " << stop_seconds << " s to stop; warren rolled the programs "
            << reroute_seconds << " s after the pod turned NotReady (debounce 2 s); the programs were restarted "
            << restarted_seconds << " s and five new counts had arrived "
            << failover_seconds << " s after the broker began to stop; " << last_before << " -> " << first_after
            << " (gap " << gap << " intervals of 1 s)" << std::endl;
  EXPECT_LE(gap, static_cast<long long>(failover_seconds) + 3);

  const json status = get(api::brokerClusters(), kClusterName)["status"];
  EXPECT_EQ(status["activeNode"], cluster_.nodeName(second));
  EXPECT_EQ(status.value("/lastFailover/from"_json_pointer, std::string()), cluster_.nodeName(first));
  EXPECT_EQ(get(controllers::countingServices(), kServiceName)["status"]["currentNode"], cluster_.nodeName(second));
  stopProgram(client);
  stopProgram(service);
}

INSTANTIATE_TEST_SUITE_P(Protocols, Seed000Test, ::testing::Values("mqtt", "amqp"),
                         [](const ::testing::TestParamInfo<std::string>& param) { return param.param; });

}  // namespace
}  // namespace warren::dataplane
