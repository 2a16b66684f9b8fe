// Data plane, for real: the rabbitmq.conf, enabled_plugins and Erlang cookie
// that warren renders for a 3-replica BrokerCluster start three real
// rabbitmq-server processes (Debian's package). Each runs in a network
// namespace of its own, as a pod would, joined by a bridge; the StatefulSet
// DNS names are mapped to the namespaces' addresses in an Erlang inetrc file
// that only these processes read. The test creates and removes all of it.
//
// Proves: the nodes form ONE cluster; a quorum queue declared through node 0
// keeps accepting and delivering with node 0 stopped; a node with another
// cookie cannot join (negative control).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/broker_cluster.h"
#include "binding/config_patch.h"
#include "builders/broker_cluster_children.h"
#include "controllers/broker_cluster_controller.h"
#include "kube/cpprest_transport.h"
#include "kube/tls_material.h"
#include "runtime/object_helpers.h"

extern char** environ;

namespace warren {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kRabbitmqServer = "/usr/lib/rabbitmq/bin/rabbitmq-server";

bool run(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()) == 0; }

bool eventually(const std::function<bool()>& condition, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(500ms);
  }
  return condition();
}

class DataPlaneTest : public ::testing::Test {
 protected:
  struct Node {
    int ordinal;
    std::string netns;
    std::string ip;
    std::filesystem::path dir;
    pid_t pid = -1;
  };

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces (CI runs as root)";
    ASSERT_TRUE(std::filesystem::exists(kRabbitmqServer)) << "rabbitmq-server is not installed (hack/install-deps.sh)";
    ASSERT_TRUE(run("command -v ip")) << "iproute2 is not installed";
    id_ = std::to_string(getpid() % 10000);
    subnet_ = "10.213." + std::to_string(getpid() % 200 + 20);
    bridge_ = "wrnbr" + id_;
    root_ = std::filesystem::temp_directory_path() / ("warren-dataplane-" + id_);
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    ASSERT_TRUE(run("ip link add " + bridge_ + " type bridge && ip addr add " + subnet_ + ".1/24 dev " + bridge_ +
                    " && ip link set " + bridge_ + " up"));

  }

  // Renders what warren would for a BrokerCluster "dp" with `spec`.
  void configure(const json& spec) {
    const json object = {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerCluster"},
                         {"metadata", {{"name", "dp"}, {"namespace", "warren-dp"}, {"uid", "dp-uid"}}},
                         {"spec", spec}};
    auto parsed = api::parseBrokerCluster(object);
    ASSERT_TRUE(parsed.ok());
    cluster_ = *parsed;
    cookie_ = controllers::randomAlphanumeric(44);
    const json user = builders::buildDefaultUserSecret(cluster_, "user-dp", controllers::randomAlphanumeric(24));
    username_ = *kube::base64Decode(user["data"]["username"].get<std::string>());
    password_ = *kube::base64Decode(user["data"]["password"].get<std::string>());
    config_map_ = builders::buildConfigMap(cluster_);
    // The DNS names a pod would resolve: <pod>.<headless service>.<namespace>.
    std::ofstream inetrc(root_ / "inetrc");
    for (int i = 0; i < 4; ++i) {
      std::string ip = subnet_ + "." + std::to_string(10 + i);
      std::string dotted = ip;
      std::replace(dotted.begin(), dotted.end(), '.', ',');
      inetrc << "{host, {" << dotted << "}, [\"" << cluster_.podName(i) << "." << cluster_.headlessServiceName() << "."
             << cluster_.ns << "\"]}.\n";
    }
    inetrc << "{lookup, [file, native]}.\n";
  }

  void TearDown() override {
    for (pid_t pid : programs_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    for (auto& node : nodes_) stop(node);
    for (auto& node : nodes_) run("ip netns del " + node.netns);
    if (!bridge_.empty()) run("ip link del " + bridge_);
    if (!root_.empty() && !HasFailure()) std::filesystem::remove_all(root_);
  }

  // Starts node `ordinal` with warren's files (and `cookie`) in its own namespace.
  Node& start(int ordinal, const std::string& cookie) {
    Node node{ordinal, "wrn" + id_ + "-" + std::to_string(ordinal), subnet_ + "." + std::to_string(10 + ordinal),
              root_ / ("node-" + std::to_string(ordinal))};
    const std::string veth = "wv" + id_ + "x" + std::to_string(ordinal);
    EXPECT_TRUE(run("ip netns add " + node.netns + " && ip netns exec " + node.netns + " ip link set lo up && ip link add " +
                    veth + " type veth peer name " + veth + "p && ip link set " + veth + "p netns " + node.netns +
                    " && ip link set " + veth + " master " + bridge_ + " && ip link set " + veth + " up && ip netns exec " +
                    node.netns + " ip addr add " + node.ip + "/24 dev " + veth + "p && ip netns exec " + node.netns +
                    " ip link set " + veth + "p up"));
    for (const char* sub : {"home", "conf.d", "mnesia", "log"}) std::filesystem::create_directories(node.dir / sub);
    {
      std::ofstream(node.dir / "home" / ".erlang.cookie") << cookie;
      std::filesystem::permissions(node.dir / "home" / ".erlang.cookie", std::filesystem::perms::owner_read);
      // Exactly what the setup init container installs in a pod, except
      // default_queue_type, which RabbitMQ 3.10 here predates (3.13+ knows
      // it; the queue below is declared quorum explicitly).
      std::istringstream rendered(config_map_["data"]["10-warren.conf"].get<std::string>());
      std::ofstream conf(node.dir / "conf.d" / "10-warren.conf");
      for (std::string line; std::getline(rendered, line);) {
        if (line.rfind("default_queue_type", 0) != 0) conf << line << "\n";
      }
      std::ofstream(node.dir / "conf.d" / "90-additional.conf") << config_map_["data"]["90-additional.conf"].get<std::string>();
      std::ofstream(node.dir / "conf.d" / "11-default_user.conf")
          << "default_user = " << username_ << "\ndefault_pass = " << password_ << "\n";
      std::ofstream(node.dir / "enabled_plugins") << config_map_["data"]["enabled_plugins"].get<std::string>();
    }
    const std::string nodename = cluster_.nodeName(ordinal);
    std::vector<std::string> args = {
        "/usr/sbin/ip", "netns", "exec", node.netns, "env", "-i", "PATH=/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME=" + (node.dir / "home").string(), "RABBITMQ_NODENAME=" + nodename, "RABBITMQ_USE_LONGNAME=true",
        "RABBITMQ_CONFIG_FILES=" + (node.dir / "conf.d").string(), "RABBITMQ_CONF_ENV_FILE=/dev/null",
        "RABBITMQ_ENABLED_PLUGINS_FILE=" + (node.dir / "enabled_plugins").string(),
        "RABBITMQ_MNESIA_BASE=" + (node.dir / "mnesia").string(), "RABBITMQ_LOG_BASE=" + (node.dir / "log").string(),
        "ERL_INETRC=" + (root_ / "inetrc").string(), kRabbitmqServer};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string out = (node.dir / "out.log").string();
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);  // its own group, to stop it whole
    posix_spawnattr_setpgroup(&attributes, 0);
    EXPECT_EQ(posix_spawn(&node.pid, argv[0], &actions, &attributes, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    nodes_.push_back(node);
    return nodes_.back();
  }

  void stop(Node& node) {
    if (node.pid <= 0) return;
    ::kill(-node.pid, SIGTERM);
    for (int i = 0; i < 60; ++i) {
      if (::waitpid(node.pid, nullptr, WNOHANG) == node.pid) {
        node.pid = -1;
        break;
      }
      std::this_thread::sleep_for(250ms);
    }
    if (node.pid > 0) {
      ::kill(-node.pid, SIGKILL);
      ::waitpid(node.pid, nullptr, 0);
      node.pid = -1;
    }
    // The namespace's epmd outlives the node; end it with the namespace's processes.
    run("ip netns pids " + node.netns + " | xargs -r kill -9");
  }

  // The management HTTP API of a node.
  Result<json> management(const Node& node, const std::string& method, const std::string& path,
                          const json& body = nullptr) {
    auto transport = kube::CpprestTransport::create("http://" + node.ip + ":" + std::to_string(builders::kManagementPort),
                                                    {}, std::chrono::seconds(10), "warren-dataplane-test");
    if (!transport) return transport.error();
    kube::HttpRequest request;
    request.method = method;
    request.path = path;
    request.headers.emplace_back("Authorization", "Basic " + kube::base64Encode(username_ + ":" + password_));
    if (!body.is_null()) {
      request.content_type = "application/json";
      request.body = body.dump();
    }
    auto response = (*transport)->send(request);
    if (!response) return response.error();
    if (response->status >= 300) return Error{response->status, "HTTP", response->body};
    if (response->body.empty()) return json::object();
    return json::parse(response->body, nullptr, false);
  }

  std::set<std::string> runningNodes(const Node& via) {
    std::set<std::string> names;
    auto nodes = management(via, "GET", "/api/nodes");
    if (!nodes || !nodes->is_array()) return names;
    for (const auto& n : *nodes) {
      if (n.value("running", false)) names.insert(n.value("name", ""));
    }
    return names;
  }

  std::string logTail(const Node& node) {
    std::ifstream in(node.dir / "out.log");
    std::stringstream text;
    text << in.rdbuf();
    const std::string all = text.str();
    return all.size() > 3000 ? all.substr(all.size() - 3000) : all;
  }

  // Starts a program in the root namespace (as a client pod would reach the brokers).
  pid_t spawnProgram(const std::string& path, const std::string& argument, const std::filesystem::path& log) {
    std::vector<std::string> args = {path, argument};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = -1;
    EXPECT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0) << path;
    posix_spawn_file_actions_destroy(&actions);
    programs_.push_back(pid);
    return pid;
  }
  static void stopProgram(pid_t pid) {
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
  }

  std::vector<pid_t> programs_;
  std::string id_, subnet_, bridge_;
  std::filesystem::path root_;
  api::BrokerCluster cluster_;
  std::string cookie_, username_, password_;
  json config_map_;
  std::vector<Node> nodes_;
};

TEST_F(DataPlaneTest, RenderedConfigFormsOneClusterThatSurvivesLosingNodeZero) {
  configure({{"replicas", 3}});
  nodes_.reserve(4);
  for (int i = 0; i < 3; ++i) start(i, cookie_);
  const std::set<std::string> all = {cluster_.nodeName(0), cluster_.nodeName(1), cluster_.nodeName(2)};
  ASSERT_TRUE(eventually([&] { return runningNodes(nodes_[0]) == all; }, 180s))
      << "no 3-node cluster; node 0 sees " << ::testing::PrintToString(runningNodes(nodes_[0])) << "\n"
      << logTail(nodes_[0]) << "\n--- node 2:\n" << logTail(nodes_[2]);
  // Every node agrees (node 2's management listener may still be starting).
  EXPECT_TRUE(eventually([&] { return runningNodes(nodes_[2]) == all; }, 60s));
  std::cout << "management API lists 3 running nodes: " << ::testing::PrintToString(all) << std::endl;

  // A quorum queue declared through node 0.
  ASSERT_TRUE(management(nodes_[0], "PUT", "/api/queues/%2F/orders",
                         {{"durable", true}, {"arguments", {{"x-queue-type", "quorum"}}}}).ok());
  auto queue = management(nodes_[0], "GET", "/api/queues/%2F/orders");
  ASSERT_TRUE(queue.ok());
  EXPECT_EQ((*queue)["type"], "quorum");
  auto publish = [&](const Node& via, const std::string& payload) {
    auto routed = management(via, "POST", "/api/exchanges/%2F/amq.default/publish",
                             {{"properties", json::object()}, {"routing_key", "orders"},
                              {"payload", payload}, {"payload_encoding", "string"}});
    return routed.ok() && (*routed).value("routed", false);
  };
  ASSERT_TRUE(publish(nodes_[0], "before-failover"));

  stop(nodes_[0]);
  // Through node 1, with node 0 gone: still accepting and delivering.
  ASSERT_TRUE(eventually([&] { return publish(nodes_[1], "after-failover"); }, 60s))
      << "the quorum queue stopped accepting with node 0 down\n" << logTail(nodes_[1]);
  std::set<std::string> delivered;
  ASSERT_TRUE(eventually([&] {
    auto got = management(nodes_[1], "POST", "/api/queues/%2F/orders/get",
                          {{"count", 10}, {"ackmode", "ack_requeue_false"}, {"encoding", "auto"}});
    if (got && got->is_array()) {
      for (const auto& m : *got) delivered.insert(m.value("payload", ""));
    }
    return delivered.count("before-failover") && delivered.count("after-failover");
  }, 60s)) << "delivered: " << ::testing::PrintToString(delivered);

  // Negative control: a node with another cookie, configured the same way, cannot join.
  Node& stranger = start(3, controllers::randomAlphanumeric(44));
  ASSERT_TRUE(eventually([&] { return !runningNodes(stranger).empty(); }, 180s)) << logTail(stranger);
  std::this_thread::sleep_for(5s);
  EXPECT_EQ(runningNodes(stranger), (std::set<std::string>{cluster_.nodeName(3)}))
      << "a node with a different cookie joined the cluster";
  auto members = management(nodes_[1], "GET", "/api/nodes");
  ASSERT_TRUE(members.ok());
  std::set<std::string> known;
  for (const auto& n : *members) known.insert(n.value("name", ""));
  EXPECT_EQ(known.count(cluster_.nodeName(3)), 0u);
}

std::vector<long long> readCounts(const std::filesystem::path& file) {
  std::vector<long long> counts;
  std::ifstream in(file);
  for (long long count; in >> count;) counts.push_back(count);
  return counts;
}

// Seed 000 end to end: the real counting service and client on a 2-node
// cluster with MQTT. The active node dies; its configs are rerouted exactly
// as BrokerBinding does (the same patcher) and both programs restart, as a
// rollout would. The counts carry on, never reset, with a bounded gap.
TEST_F(DataPlaneTest, Seed000CountingCarriesOnAcrossAFailover) {
  configure({{"replicas", 2}, {"mqtt", {{"enabled", true}}}});
  nodes_.reserve(2);
  start(0, cookie_);
  start(1, cookie_);
  const std::set<std::string> both = {cluster_.nodeName(0), cluster_.nodeName(1)};
  ASSERT_TRUE(eventually([&] { return runningNodes(nodes_[0]) == both; }, 180s)) << logTail(nodes_[0]);

  // The configs warren renders for the pair, pointing at the active node 0.
  const auto interval = 500ms;
  const json base = {{"broker", {{"host", nodes_[0].ip}, {"port", 1883}, {"username", username_}, {"password", password_}}},
                     {"topic", "warren/counting/demo"},
                     {"intervalSeconds", 0.5},
                     {"startTime", runtime::formatTime(std::chrono::system_clock::now() - 30s)},
                     {"healthAddress", "127.0.0.1:0"},
                     {"bufferSize", 50}};
  json client_config = base;
  client_config["recordFile"] = (root_ / "received.txt").string();
  std::ofstream(root_ / "service.json") << base.dump(2);
  std::ofstream(root_ / "client.json") << client_config.dump(2);
  pid_t client = spawnProgram(WARREN_COUNTING_CLIENT, (root_ / "client.json").string(), root_ / "client.log");
  pid_t service = spawnProgram(WARREN_COUNTING_SERVICE, (root_ / "service.json").string(), root_ / "service.log");
  ASSERT_TRUE(eventually([&] { return readCounts(root_ / "received.txt").size() >= 5; }, 60s))
      << "no counts before the failover";

  // Node 0 dies; warren moves the clients to node 1 and restarts them.
  const auto before = readCounts(root_ / "received.txt");
  const auto failover_start = std::chrono::steady_clock::now();
  stop(nodes_[0]);
  for (const char* file : {"service.json", "client.json"}) {
    std::ifstream in(root_ / file);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto rerouted = binding::patchJson(text, {{"broker.host", nodes_[1].ip}});
    ASSERT_TRUE(rerouted.ok()) << rerouted.error().message;
    std::ofstream(root_ / file) << *rerouted;
  }
  stopProgram(client);
  stopProgram(service);
  client = spawnProgram(WARREN_COUNTING_CLIENT, (root_ / "client.json").string(), root_ / "client.log");
  service = spawnProgram(WARREN_COUNTING_SERVICE, (root_ / "service.json").string(), root_ / "service.log");
  ASSERT_TRUE(eventually([&] { return readCounts(root_ / "received.txt").size() >= before.size() + 5; }, 90s))
      << "no counts after the failover; client log:\n" << logTail(Node{0, "", "", root_})  << "\n" << logTail(nodes_[1]);
  const double failover_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - failover_start).count();

  const auto after = readCounts(root_ / "received.txt");
  // Never reset: every count at least the one before it.
  for (size_t i = 1; i < after.size(); ++i) ASSERT_GE(after[i], after[i - 1]) << "count went backwards at " << i;
  const long long last_before = before.back();
  const long long first_after = after[before.size()];
  EXPECT_GT(after.back(), last_before);
  // The gap is what the failover took, in intervals (plus slack for start-up).
  const long long gap = first_after - last_before;
  std::cout << "failover took " << failover_seconds << " s; counts " << last_before << " -> " << first_after
            << " (gap " << gap << " intervals of " << interval.count() << " ms)" << std::endl;
  EXPECT_LE(gap, static_cast<long long>(failover_seconds * 1000 / interval.count()) + 4);
  stopProgram(client);
  stopProgram(service);
  programs_.clear();
}

}  // namespace
}  // namespace warren
