// LoopbackClusterTest: the local control plane with warren's BrokerCluster
// and OffloadPipeline controllers in this process (real backends), and the
// servers kwok's pods cannot be, on loopback: versitygw, PostgreSQL 15 and,
// once a test applies the example's BrokerCluster, a RabbitMQ 4.0.5 node
// with the management plugin and the default user warren created. The names
// warren and the programs resolve (the BrokerCluster's Service, the S3
// endpoint) point at a loopback address of the suite's own through an
// /etc/hosts bind-mounted in a private mount namespace (so the real ports
// 5672, 15672 and 7070 are used, and nothing outside this process sees it).
#pragma once

#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include <fstream>
#include <random>
#include <regex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/broker_cluster.h"
#include "api/offload_pipeline.h"
#include "controllers/broker_cluster_controller.h"
#include "controllers/offload_pipeline_controller.h"
#include "kube/tls_material.h"
#include "live_cluster.h"
#include "offload/curl_management_transport.h"
#include "offload/ledger.h"
#include "offload/s3_client.h"
#include "offload_servers.h"
#include "process.h"
#include "running_operator.h"
#include "runtime/manager.h"
#include "runtime/object_helpers.h"

namespace warren::offload::testing {

namespace fs = std::filesystem;
using json = nlohmann::json;
using warren::testing::LiveClusterTest;
using warren::testing::spawnProcess;
using warren::testing::stopProcess;

inline constexpr const char* kExample = "examples/seed-001-offload";

inline std::string exampleFile(const std::string& name) {
  const char* root = std::getenv("WARREN_ROOT");
  return std::string(root != nullptr ? root : WARREN_SOURCE_DIR) + "/" + kExample + "/" + name;
}

class LoopbackClusterTest : public LiveClusterTest {
 protected:
  static void SetUpTestSuite() {
    // A loopback address of our own, and /etc/hosts of our own to resolve names to it: once per process
    // (a later suite in the same process reuses them; a mount namespace cannot be left once threads run).
    if (hosts_file_.empty()) {
      std::mt19937 random(std::random_device{}());
      address_ = "127." + std::to_string(100 + random() % 100) + "." + std::to_string(random() % 250) + "." +
                 std::to_string(2 + random() % 200);
      hosts_file_ = fs::temp_directory_path() / ("warren-loopback-hosts-" + std::to_string(getpid()));
      std::ofstream(hosts_file_) << "127.0.0.1 localhost\n";
      std::atexit([] { std::remove(hosts_file_.c_str()); });
      if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
          mount(hosts_file_.c_str(), "/etc/hosts", nullptr, MS_BIND, nullptr) != 0) {
        setup_ = Error::local("Setup", std::string("cannot bind-mount /etc/hosts in a private mount namespace: ") +
                                           std::strerror(errno));
        return;
      }
    }
    // Every thread and process started from here on sees that /etc/hosts (the mount namespace is the
    // calling thread's, so this comes before anything starts a thread).
    warren::testing::installCrds();
    servers_ = new OffloadServers();
    servers_->setS3Listener(address_, 7070);
    setup_ = servers_->startS3();
    if (setup_) setup_ = servers_->startDatabase();
  }
  static void TearDownTestSuite() {
    delete servers_;
    servers_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(setup_) << setup_.error().message;
    LiveClusterTest::SetUp();
    dir_ = servers_->root() / ns();
    fs::create_directories(dir_);
    // Written in place: the bind mount shows the same file.
    std::ofstream(hosts_file_, std::ios::trunc) << "127.0.0.1 localhost\n"
                                                << address_ << " offload-bus." << ns() << ".svc offload-s3." << ns()
                                                << ".svc\n";
    runtime::ManagerOptions options;
    options.http_address = "";
    manager_ = std::make_unique<runtime::Manager>(newAdminClient(), options);
    controllers::addBrokerClusterController(*manager_, ns(), 2);
    controllers::OffloadPipelineSettings settings;
    settings.recheck = std::chrono::seconds(2);
    settings.dependency_retry = std::chrono::seconds(1);
    controllers::addOffloadPipelineController(*manager_, ns(), 2, controllers::realOffloadBackends(), settings);
    thread_ = std::thread([this] { manager_->run(stop_); });
  }
  void TearDown() override {
    for (pid_t pid : processes_) stopProcess(pid, std::chrono::seconds(5));
    // The pipeline goes while its operator runs (its finalizer would hold the namespace otherwise).
    (void)client().remove(api::offloadPipelines(), ns(), "orders", {});
    EXPECT_TRUE(eventually([&] { return !client().get(api::offloadPipelines(), ns(), "orders").ok(); }, std::chrono::seconds(60)));
    servers_->stopBroker();
    stop_.cancel();
    if (thread_.joinable()) thread_.join();
    LiveClusterTest::TearDown();
    // Gone before the next test: an operator watching every namespace (the e2e's) never meets it half-deleted.
    EXPECT_TRUE(eventually([&] { return !client().get(kube::resources::namespaces(), "", ns()).ok(); },
                           std::chrono::seconds(120)));
  }

  int kubectl(const std::string& args) {
    const std::string command = std::string(std::getenv("WARREN_KUBECTL")) + " --kubeconfig " +
                                std::getenv("WARREN_TEST_KUBECONFIG") + " -n " + ns() + " " + args + " >>" +
                                (dir_ / "kubectl.log").string() + " 2>&1";
    return std::system(command.c_str());
  }
  // The example's manifest with its namespace (seed-001) replaced by the test's.
  fs::path example(const std::string& name) {
    std::ifstream in(exampleFile(name));
    std::stringstream text;
    text << in.rdbuf();
    const fs::path out = dir_ / name;
    std::ofstream(out) << std::regex_replace(text.str(), std::regex("seed-001\\.svc"), ns() + ".svc");
    return out;
  }
  void putSecret(const std::string& name, const json& string_data) {
    json data = json::object();
    for (const auto& [k, v] : string_data.items()) data[k] = kube::base64Encode(v.get<std::string>());
    const json secret = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", name}, {"namespace", ns()}}}, {"data", data}};
    auto existing = client().get(kube::resources::secrets(), ns(), name);
    auto written = existing ? client().update(kube::resources::secrets(), ns(), secret, {})
                            : client().create(kube::resources::secrets(), ns(), secret, {});
    ASSERT_TRUE(written.ok()) << written.error().describe();
  }
  // NAME=VALUE for every key of Secret `name` that is an environment variable name.
  std::vector<std::string> secretEnv(const std::string& name) {
    std::vector<std::string> env;
    const json data = get(kube::resources::secrets(), name).value("data", json::object());
    for (const auto& [key, value] : data.items()) {
      if (!std::regex_match(key, std::regex("[A-Z_][A-Z0-9_]*"))) continue;
      auto decoded = kube::base64Decode(value.get<std::string>());
      env.push_back(key + "=" + (decoded ? *decoded : std::string()));
    }
    return env;
  }
  json pipeline() { return get(api::offloadPipelines(), "orders"); }
  std::string conditionOf(const std::string& type, const char* field = "status") {
    const json conditions = pipeline().value("/status/conditions"_json_pointer, json::array());
    const json* condition = runtime::findCondition(conditions, type);
    return condition != nullptr ? condition->value(field, "") : "";
  }
  long long ledgerFigure(const std::string& name) {
    const json object = pipeline();
    const json::json_pointer at("/status/ledger/" + name);
    return object.contains(at) && object[at].is_number_integer() ? object[at].get<long long>() : -1;
  }
  pid_t start(std::vector<std::string> argv, std::vector<std::string> env, const std::string& log) {
    const pid_t pid = spawnProcess(argv, {dir_ / log, std::move(env)});
    EXPECT_GT(pid, 0) << argv[0];
    if (pid > 0) processes_.push_back(pid);
    servers_->track(pid);
    return pid;
  }
  // The coordinator as its pod runs it: the Deployment's command, the config Secret as environment.
  pid_t startCoordinator(const std::string& log) {
    const json deployment = get(kube::resources::deployments(), "orders-coordinator");
    std::vector<std::string> argv = {WARREN_OFFLOAD_COORDINATOR};
    const json& command = deployment["spec"]["template"]["spec"]["containers"][0]["command"];
    for (size_t i = 1; i < command.size(); ++i) argv.push_back(command[i].get<std::string>());
    for (auto& arg : argv) {
      if (arg == ":9464") arg = "";  // --metrics-address: no port needed here
    }
    argv.push_back("--rescan-interval");
    argv.push_back("1s");
    return start(argv, secretEnv("orders-coordinator-config"), log);
  }
  std::string tail(const std::string& log) { return warren::testing::fileTail(dir_ / log); }

  // The example's broker cluster and the Secrets of its storage (S3's secret key as given); the
  // loopback broker then starts with the default user warren created, its management API on.
  void applyBrokerCluster(const std::string& s3_secret_key) {
    ASSERT_EQ(kubectl("apply -f " + example("broker-cluster.yaml").string()), 0) << tail("kubectl.log");
    putSecret("offload-s3-credentials",
              {{"AWS_ACCESS_KEY_ID", OffloadServers::kAccessKey}, {"AWS_SECRET_ACCESS_KEY", s3_secret_key}});
    putSecret("offload-ledger-db", {{"uri", servers_->databaseUri()}});
    json user;
    ASSERT_TRUE(eventually([&] {
      user = get(kube::resources::secrets(), "offload-bus-default-user");
      return user.contains("data");
    }));
    listener_.address = address_;
    listener_.amqp_port = 5672;
    listener_.management_port = 15672;
    listener_.username = *kube::base64Decode(user["data"]["username"].get<std::string>());
    listener_.password = *kube::base64Decode(user["data"]["password"].get<std::string>());
    servers_->setBrokerListener(listener_);
    ASSERT_TRUE(servers_->startBroker().ok());
  }
  std::unique_ptr<ManagementTransport> brokerApi() {
    return curlManagementTransport({"http://offload-bus." + ns() + ".svc:15672", listener_.username, listener_.password});
  }

  inline static std::string address_;
  inline static fs::path hosts_file_;
  inline static OffloadServers* servers_ = nullptr;
  inline static Status setup_ = okStatus();

  fs::path dir_;
  std::unique_ptr<runtime::Manager> manager_;
  kube::Cancellation stop_;
  std::thread thread_;
  std::vector<pid_t> processes_;
  BrokerListener listener_;
};

}  // namespace warren::offload::testing
