#include "dataplane_fixture.h"

#include "live_cluster.h"
#include "process.h"
#include "rabbitmq_rootfs.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "builders/broker_cluster_children.h"
#include "controllers/broker_cluster_controller.h"
#include "kube/cpprest_transport.h"
#include "kube/tls_material.h"

namespace warren::dataplane {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;


}  // namespace

bool run(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()) == 0; }

// The pid a name made by an earlier test process carries ("wrnbr123",
// "wrn123-0"), or 0 when the name is not one of ours.
pid_t ownerOf(const std::string& name, const std::string& prefix) {
  if (name.rfind(prefix, 0) != 0) return 0;
  const std::string digits = name.substr(prefix.size(), name.find_first_not_of("0123456789", prefix.size()) - prefix.size());
  if (digits.empty() || digits.size() > 9) return 0;
  return static_cast<pid_t>(std::stol(digits));
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

// A test process that died without its TearDown (a crash, a sanitizer abort,
// SIGKILL) leaves network namespaces with brokers in them, their /etc/netns
// entries and a bridge. Removes those whose owning process is gone.
void sweepLeftovers() {
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ignored)) {
    const std::string name = entry.path().filename();
    if (const pid_t owner = ownerOf(name, "wrn"); owner != 0 && !alive(owner)) {
      run("ip netns pids " + name + " | xargs -r kill -9");
      run("ip netns del " + name);
    }
  }
  for (const auto& entry : std::filesystem::directory_iterator("/etc/netns", ignored)) {
    const std::string name = entry.path().filename();
    if (const pid_t owner = ownerOf(name, "wrn"); owner != 0 && !alive(owner)) std::filesystem::remove_all(entry.path(), ignored);
  }
  for (const auto& entry : std::filesystem::directory_iterator("/sys/class/net", ignored)) {
    const std::string name = entry.path().filename();
    if (const pid_t owner = ownerOf(name, "wrnbr"); owner != 0 && !alive(owner)) run("ip link del " + name);
  }
}

bool eventually(const std::function<bool()>& condition, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(500ms);
  }
  return condition();
}

std::vector<long long> readCounts(const std::filesystem::path& file) {
  std::vector<long long> counts;
  std::ifstream in(file);
  for (long long count; in >> count;) counts.push_back(count);
  return counts;
}

void DataPlaneTest::SetUp() {
  if (geteuid() != 0) WARREN_CANNOT_RUN("dataplane", "needs root for network namespaces (CI runs as root)");
  rootfs_ = testing::rabbitmqRootfs();
  ASSERT_TRUE(testing::rabbitmqRootfsReady(rootfs_))
      << "no RabbitMQ 4 root filesystem at " << rootfs_ << " (hack/build-rabbitmq-rootfs.sh builds it)";
  ASSERT_TRUE(run("command -v unshare")) << "util-linux's unshare is needed";
  ASSERT_TRUE(run("command -v ip")) << "iproute2 is not installed";
  sweepLeftovers();
  id_ = std::to_string(getpid());  // the whole pid: sweepLeftovers() tells a dead owner by it
  subnet_ = "10.213." + std::to_string(getpid() % 200 + 20);
  bridge_ = "wrnbr" + id_;
  root_ = std::filesystem::temp_directory_path() / ("warren-dataplane-" + id_);
  std::filesystem::remove_all(root_);
  std::filesystem::create_directories(root_);
  ASSERT_TRUE(run("ip link add " + bridge_ + " type bridge && ip addr add " + subnet_ + ".1/24 dev " + bridge_ +
                  " && ip link set " + bridge_ + " up"));
}

void DataPlaneTest::TearDown() {
  for (pid_t pid : programs_) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  for (auto& node : nodes_) stop(node);
  for (const auto& netns : namespaces_) {
    run("ip netns pids " + netns + " | xargs -r kill -9");
    run("ip netns del " + netns);
    std::filesystem::remove_all(std::filesystem::path("/etc/netns") / netns);
  }
  if (!bridge_.empty()) run("ip link del " + bridge_);
  if (!root_.empty() && !HasFailure()) std::filesystem::remove_all(root_);
}

void DataPlaneTest::renderFor(const json& spec) {
  const json object = {{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerCluster"},
                       {"metadata", {{"name", "dp"}, {"namespace", "warren-dp"}, {"uid", "dp-uid"}}},
                       {"spec", spec}};
  auto parsed = api::parseBrokerCluster(object);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  cookie_ = controllers::randomAlphanumeric(44);
  const json user = builders::buildDefaultUserSecret(*parsed, "user-dp", controllers::randomAlphanumeric(24));
  useRendered(*parsed, *kube::base64Decode(user["data"]["username"].get<std::string>()),
              *kube::base64Decode(user["data"]["password"].get<std::string>()), builders::buildConfigMap(*parsed));
}

void DataPlaneTest::useRendered(const api::BrokerCluster& cluster, const std::string& username,
                                const std::string& password, const json& config_map) {
  cluster_ = cluster;
  username_ = username;
  password_ = password;
  config_map_ = config_map;
  // The names the nodes resolve each other by: <pod>.<headless service>.<namespace>.
  std::ofstream inetrc(root_ / "inetrc");
  for (int i = 0; i < 4; ++i) {
    std::string dotted = nodeIp(i);
    std::replace(dotted.begin(), dotted.end(), '.', ',');
    inetrc << "{host, {" << dotted << "}, [\"" << cluster_.podName(i) << "." << cluster_.headlessServiceName() << "."
           << cluster_.ns << "\"]}.\n";
  }
  inetrc << "{lookup, [file, native]}.\n";
}

std::string DataPlaneTest::podHostsFile(int replicas) const {
  std::ostringstream hosts;
  hosts << "127.0.0.1 localhost\n";
  for (int i = 0; i < replicas; ++i) hosts << nodeIp(i) << " " << api::nodeHost(cluster_.nodeName(i)) << "\n";
  return hosts.str();
}

void DataPlaneTest::addNetworkNamespace(const std::string& netns, const std::string& ip, const std::string& hosts) {
  const std::string veth = "wv" + id_ + "x" + std::to_string(namespaces_.size());
  namespaces_.push_back(netns);
  EXPECT_TRUE(run("ip netns add " + netns + " && ip netns exec " + netns + " ip link set lo up && ip link add " + veth +
                  " type veth peer name " + veth + "p && ip link set " + veth + "p netns " + netns + " && ip link set " +
                  veth + " master " + bridge_ + " && ip link set " + veth + " up && ip netns exec " + netns +
                  " ip addr add " + ip + "/24 dev " + veth + "p && ip netns exec " + netns + " ip link set " + veth +
                  "p up"))
      << netns;
  if (!hosts.empty()) {
    // `ip netns exec` bind-mounts /etc/netns/<name>/hosts over /etc/hosts.
    std::filesystem::create_directories(std::filesystem::path("/etc/netns") / netns);
    std::ofstream(std::filesystem::path("/etc/netns") / netns / "hosts") << hosts;
  }
}

DataPlaneTest::Node& DataPlaneTest::start(int ordinal, const std::string& cookie) {
  Node node{ordinal, "wrn" + id_ + "-" + std::to_string(ordinal), nodeIp(ordinal), root_ / ("node-" + std::to_string(ordinal))};
  addNetworkNamespace(node.netns, node.ip);
  for (const char* sub : {"home", "conf.d", "mnesia", "log"}) std::filesystem::create_directories(node.dir / sub);
  {
    std::ofstream(node.dir / "home" / ".erlang.cookie") << cookie;
    std::filesystem::permissions(node.dir / "home" / ".erlang.cookie", std::filesystem::perms::owner_read);
    // Exactly what the setup init container installs in a pod, unchanged.
    std::ofstream(node.dir / "conf.d" / "10-warren.conf") << config_map_["data"]["10-warren.conf"].get<std::string>();
    std::ofstream(node.dir / "conf.d" / "90-additional.conf") << config_map_["data"]["90-additional.conf"].get<std::string>();
    std::ofstream(node.dir / "conf.d" / "11-default_user.conf")
        << "default_user = " << username_ << "\ndefault_pass = " << password_ << "\n";
    std::ofstream(node.dir / "enabled_plugins") << config_map_["data"]["enabled_plugins"].get<std::string>();
    std::filesystem::copy_file(root_ / "inetrc", node.dir / "inetrc", std::filesystem::copy_options::overwrite_existing);
  }
  // RabbitMQ 4.0.5 from the trixie root filesystem, chrooted, in the node's
  // network namespace and a private mount namespace (its bind mounts vanish
  // with it): /proc, /sys and the node's own directory at /warren-node.
  const std::string mount = testing::kRabbitmqNodeMount;
  std::vector<std::string> argv = {"/usr/sbin/ip", "netns", "exec", node.netns};
  for (auto& arg : testing::chrootedCommand(
           rootfs_, node.dir,
           {"HOME=" + mount + "/home", "RABBITMQ_NODENAME=" + cluster_.nodeName(ordinal), "RABBITMQ_USE_LONGNAME=true",
            "RABBITMQ_CONFIG_FILES=" + mount + "/conf.d", "RABBITMQ_CONF_ENV_FILE=/dev/null",
            "RABBITMQ_ENABLED_PLUGINS_FILE=" + mount + "/enabled_plugins", "RABBITMQ_MNESIA_BASE=" + mount + "/mnesia",
            "RABBITMQ_LOG_BASE=" + mount + "/log", "ERL_INETRC=" + mount + "/inetrc"},
           {testing::kRabbitmqServer})) {
    argv.push_back(std::move(arg));
  }
  std::filesystem::remove(node.dir / "out.log");
  node.pid = spawn(argv, node.dir / "out.log");  // stopped by stop(), as a group
  nodes_.push_back(node);
  return nodes_.back();
}

void DataPlaneTest::stop(Node& node) {
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

Result<json> DataPlaneTest::management(const Node& node, const std::string& method, const std::string& path,
                                       const json& body) {
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

std::set<std::string> DataPlaneTest::runningNodes(const Node& via) {
  std::set<std::string> names;
  auto nodes = management(via, "GET", "/api/nodes");
  if (!nodes || !nodes->is_array()) return names;
  for (const auto& n : *nodes) {
    if (n.value("running", false)) names.insert(n.value("name", ""));
  }
  return names;
}

std::string DataPlaneTest::logTail(const std::filesystem::path& file) { return testing::fileTail(file); }

pid_t DataPlaneTest::spawn(const std::vector<std::string>& argv, const std::filesystem::path& log) {
  const pid_t pid = testing::spawnProcess(argv, {log, {}});
  EXPECT_GT(pid, 0) << argv[0] << ": " << std::strerror(errno);
  return pid;
}

pid_t DataPlaneTest::spawnProgram(const std::vector<std::string>& argv, const std::filesystem::path& log) {
  const pid_t pid = spawn(argv, log);
  if (pid > 0) programs_.push_back(pid);
  return pid;
}

void DataPlaneTest::stopProgram(pid_t pid) {
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  // Reaped: its number may be reused, so TearDown must not signal it.
  programs_.erase(std::remove(programs_.begin(), programs_.end(), pid), programs_.end());
}

}  // namespace warren::dataplane
