// OffloadPipeline end to end on the local control plane, with real servers:
// versitygw (S3), PostgreSQL 15 and RabbitMQ 4.0.5 (management plugin on),
// the operator's controllers in this process with the real backends. The
// example's manifests are applied with kubectl; the example's MinIO and
// PostgreSQL stand-ins are replaced by the loopback servers. The names the
// operator and the programs resolve (the BrokerCluster's Service, the S3
// endpoint) are mapped to a loopback address of this test's own through an
// /etc/hosts bind-mounted in a private mount namespace (so the real ports
// 5672, 15672 and 7070 are used, and nothing outside this process sees it).
// The coordinator Deployment's pods are kwok's (the real-node issue brings
// real pods); the coordinator and the programs run here as processes, from
// the config and binding Secrets warren rendered, exactly as the pods would.
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
#include "offload/broker_management.h"
#include "offload/ledger.h"
#include "offload/s3_client.h"
#include "offload_servers.h"
#include "process.h"
#include "running_operator.h"
#include "runtime/manager.h"
#include "runtime/object_helpers.h"

namespace warren::offload {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using warren::testing::LiveClusterTest;
using warren::testing::spawnProcess;
using warren::testing::stopProcess;

constexpr const char* kExample = "examples/seed-001-offload";
constexpr int kPayloads = 20;

std::string exampleFile(const std::string& name) {
  const char* root = std::getenv("WARREN_ROOT");
  return std::string(root != nullptr ? root : WARREN_SOURCE_DIR) + "/" + kExample + "/" + name;
}

class OffloadPipelineTest : public LiveClusterTest {
 protected:
  static void SetUpTestSuite() {
    // A loopback address of our own, and /etc/hosts of our own to resolve names to it.
    std::mt19937 random(std::random_device{}());
    address_ = "127." + std::to_string(100 + random() % 100) + "." + std::to_string(random() % 250) + "." +
               std::to_string(2 + random() % 200);
    hosts_file_ = fs::temp_directory_path() / ("warren-pipeline-hosts-" + std::to_string(getpid()));
    std::ofstream(hosts_file_) << "127.0.0.1 localhost\n";
    if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        mount(hosts_file_.c_str(), "/etc/hosts", nullptr, MS_BIND, nullptr) != 0) {
      setup_ = Error::local("Setup", std::string("cannot bind-mount /etc/hosts in a private mount namespace: ") +
                                         std::strerror(errno));
      return;
    }
    // Every thread and process started from here on sees that /etc/hosts (the mount namespace is the
    // calling thread's, so this comes before anything starts a thread).
    warren::testing::installCrds();
    servers_ = new testing::OffloadServers();
    servers_->setS3Listener(address_, 7070);
    setup_ = servers_->startS3();
    if (setup_) setup_ = servers_->startDatabase();
  }
  static void TearDownTestSuite() {
    delete servers_;
    servers_ = nullptr;
    fs::remove(hosts_file_);
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
    settings.recheck = 2s;
    settings.dependency_retry = 1s;
    controllers::addOffloadPipelineController(*manager_, ns(), 2, controllers::realOffloadBackends(), settings);
    thread_ = std::thread([this] { manager_->run(stop_); });
  }
  void TearDown() override {
    for (pid_t pid : processes_) stopProcess(pid, 5s);
    // The pipeline goes while its operator runs (its finalizer would hold the namespace otherwise).
    (void)client().remove(api::offloadPipelines(), ns(), "orders", {});
    EXPECT_TRUE(eventually([&] { return !client().get(api::offloadPipelines(), ns(), "orders").ok(); }, 60s));
    servers_->stopBroker();
    stop_.cancel();
    if (thread_.joinable()) thread_.join();
    LiveClusterTest::TearDown();
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
              {{"AWS_ACCESS_KEY_ID", testing::OffloadServers::kAccessKey}, {"AWS_SECRET_ACCESS_KEY", s3_secret_key}});
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
  inline static testing::OffloadServers* servers_ = nullptr;
  inline static Status setup_ = okStatus();

  fs::path dir_;
  std::unique_ptr<runtime::Manager> manager_;
  kube::Cancellation stop_;
  std::thread thread_;
  std::vector<pid_t> processes_;
  testing::BrokerListener listener_;
};

TEST_F(OffloadPipelineTest, FromKubectlApplyToEveryObjectDeletedOnce) {
  ASSERT_NO_FATAL_FAILURE(applyBrokerCluster(testing::OffloadServers::kSecretKey));

  ASSERT_EQ(kubectl("apply -f " + example("pipeline.yaml").string()), 0) << tail("kubectl.log");
  ASSERT_TRUE(eventually([&] { return conditionOf("Ready") == "True"; }, 90s)) << pipeline()["status"].dump(2);
  const json status = pipeline()["status"];
  const std::string topology = ns() + ".orders";
  EXPECT_EQ(status["recipientQueues"], json({topology + ".recipient.billing", topology + ".recipient.archive"}));
  EXPECT_EQ(status["ledger"]["schemaVersion"], 1);
  EXPECT_EQ(status["bindingSecretName"], "orders-binding");

  // The coordinator and both recipients, from the Secrets warren rendered; the producer sends 20 payloads of 1 MiB.
  startCoordinator("coordinator-1.log");
  const std::vector<std::string> binding = secretEnv("orders-binding");
  for (const std::string recipient : {"billing", "archive"}) {
    fs::create_directories(dir_ / recipient);
    start({WARREN_OFFLOAD_CONSUMER, "--recipient", recipient, "--output-dir", (dir_ / recipient).string()}, binding,
          "consumer-" + recipient + ".log");
  }
  const pid_t producer = start({WARREN_OFFLOAD_PRODUCER, "--count", std::to_string(kPayloads), "--size", "1MiB"},
                               binding, "producer.log");
  // The coordinator killed mid-run (after its first deletions), and started again.
  ASSERT_TRUE(eventually([&] { return ledgerFigure("objectsDeleted") >= 3; }, 120s))
      << tail("coordinator-1.log") << tail("producer.log");
  kill(processes_.front(), SIGKILL);
  startCoordinator("coordinator-2.log");
  int exit_status = -1;
  ASSERT_EQ(waitpid(producer, &exit_status, 0), producer);
  EXPECT_TRUE(WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0) << tail("producer.log");

  // The pipeline's status, from the ledger: every object deleted, none outstanding.
  ASSERT_TRUE(eventually([&] { return ledgerFigure("objectsDeleted") == kPayloads && ledgerFigure("objectsOutstanding") == 0; },
                         120s))
      << pipeline()["status"].dump(2) << tail("coordinator-2.log");
  for (const std::string recipient : {"billing", "archive"}) {
    int files = 0;
    for (const auto& entry : fs::directory_iterator(dir_ / recipient)) files += entry.is_regular_file();
    EXPECT_EQ(files, kPayloads) << recipient;
  }
  auto s3 = S3Client::create(servers_->s3Config());
  ASSERT_TRUE(s3.ok());
  auto left = (*s3)->list("seed-001-payloads", topology + "/");
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->objects.empty());
  // Exactly once in the ledger's audit trail, whatever the kill did to S3 requests.
  auto ledger = Ledger::open(servers_->databaseUri(), pipeline()["status"]["ledgerSchema"], "test");
  ASSERT_TRUE(ledger.ok());
  std::ifstream produced(dir_ / "producer.log");
  int checked = 0;
  for (std::string line; std::getline(produced, line);) {
    const json message = json::parse(line, nullptr, false);
    if (!message.is_object() || !message.contains("message_id")) continue;
    auto audit = (*ledger)->auditOf(message["message_id"]);
    ASSERT_TRUE(audit.ok());
    EXPECT_EQ(std::count_if(audit->begin(), audit->end(), [](const std::string& l) { return l.rfind("deleted ", 0) == 0; }), 1)
        << message.dump();
    ++checked;
  }
  EXPECT_EQ(checked, kPayloads);
  EXPECT_GE(servers_->s3Deletes("seed-001-payloads", topology + "/"), kPayloads);

  // Deleted (deletionPolicy Retain): the topology goes, the ledger stays.
  ASSERT_EQ(kubectl("delete offloadpipeline orders --wait=false"), 0);
  ASSERT_TRUE(eventually([&] { return !client().get(api::offloadPipelines(), ns(), "orders").ok(); }, 60s));
  auto broker = brokerApi();
  EXPECT_EQ(broker->send(management::getQueue("/", topology + ".recipient.billing"))->status, 404);
  EXPECT_EQ(broker->send(management::getExchange("/", topology + ".pointers"))->status, 404);
  EXPECT_EQ((*ledger)->stats()->deleted, kPayloads);
}

TEST_F(OffloadPipelineTest, ConditionsFollowDependenciesRecipientsChangeAndDeletionNeedsNoBroker) {
  ASSERT_NO_FATAL_FAILURE(applyBrokerCluster("not-the-secret"));
  ASSERT_EQ(kubectl("apply -f " + example("pipeline.yaml").string()), 0) << tail("kubectl.log");

  // A wrong S3 secret is reported, naming the Secret; fixed, the pipeline becomes Ready.
  ASSERT_TRUE(eventually([&] { return conditionOf("StorageReady", "reason") == "AccessDenied"; }, 60s))
      << pipeline()["status"].dump(2);
  EXPECT_NE(conditionOf("StorageReady", "message").find("offload-s3-credentials"), std::string::npos);
  EXPECT_EQ(conditionOf("Ready", "reason"), "StorageNotReady");
  EXPECT_EQ(conditionOf("TopologyReady"), "True");
  putSecret("offload-s3-credentials", {{"AWS_ACCESS_KEY_ID", testing::OffloadServers::kAccessKey},
                                       {"AWS_SECRET_ACCESS_KEY", testing::OffloadServers::kSecretKey}});
  ASSERT_TRUE(eventually([&] { return conditionOf("Ready") == "True"; }, 60s)) << pipeline()["status"].dump(2);

  // S3 and the database go away and come back.
  servers_->stopS3();
  ASSERT_TRUE(eventually([&] { return conditionOf("StorageReady", "reason") == "S3Unreachable"; }, 60s))
      << pipeline()["status"].dump(2);
  ASSERT_TRUE(servers_->startS3().ok());
  ASSERT_TRUE(eventually([&] { return conditionOf("StorageReady") == "True"; }, 60s));
  servers_->stopDatabase();
  ASSERT_TRUE(eventually([&] { return conditionOf("DatabaseReady") == "False"; }, 60s));
  EXPECT_EQ(conditionOf("Ready"), "False");
  ASSERT_TRUE(servers_->startDatabase().ok());
  ASSERT_TRUE(eventually([&] { return conditionOf("Ready") == "True"; }, 60s)) << pipeline()["status"].dump(2);

  // The database Secret deleted and brought back.
  ASSERT_TRUE(client().remove(kube::resources::secrets(), ns(), "offload-ledger-db", {}).ok());
  ASSERT_TRUE(eventually([&] { return conditionOf("DatabaseReady", "reason") == "CredentialsMissing"; }, 60s));
  EXPECT_NE(conditionOf("DatabaseReady", "message").find("offload-ledger-db"), std::string::npos);
  putSecret("offload-ledger-db", {{"uri", servers_->databaseUri()}});
  ASSERT_TRUE(eventually([&] { return conditionOf("Ready") == "True"; }, 60s)) << pipeline()["status"].dump(2);

  // A bucket that does not exist: reported while warren may not create it, created once it may.
  ASSERT_EQ(kubectl("patch offloadpipeline orders --type merge -p "
                    "'{\"spec\":{\"storage\":{\"bucket\":\"another-bucket\",\"createBucket\":false}}}'"),
            0);
  ASSERT_TRUE(eventually([&] { return conditionOf("StorageReady", "reason") == "BucketMissing"; }, 60s))
      << pipeline()["status"].dump(2);
  ASSERT_EQ(kubectl("patch offloadpipeline orders --type merge -p '{\"spec\":{\"storage\":{\"createBucket\":true}}}'"), 0);
  ASSERT_TRUE(eventually([&] { return conditionOf("Ready") == "True"; }, 60s)) << pipeline()["status"].dump(2);
  auto s3 = S3Client::create(servers_->s3Config());
  ASSERT_TRUE(s3.ok());
  EXPECT_TRUE((*s3)->headBucket("another-bucket").ok());

  // A recipient replaced: the new one's queue is bound; the old one's is unbound and kept.
  ASSERT_EQ(kubectl("patch offloadpipeline orders --type merge -p '{\"spec\":{\"recipients\":[\"billing\",\"audit\"]}}'"), 0);
  const std::string topology = ns() + ".orders";
  ASSERT_TRUE(eventually([&] {
    return pipeline().value("/status/boundRecipients"_json_pointer, json()) == json({"billing", "audit"});
  }, 60s)) << pipeline()["status"].dump(2);
  auto broker = brokerApi();
  auto bound = broker->send(management::getExchangeBindings("/", topology + ".pointers"));
  ASSERT_TRUE(bound.ok());
  const std::string bindings = bound->body;
  EXPECT_NE(bindings.find(topology + ".recipient.audit"), std::string::npos);
  EXPECT_EQ(bindings.find(topology + ".recipient.archive"), std::string::npos);
  EXPECT_EQ(broker->send(management::getQueue("/", topology + ".recipient.archive"))->status, 200);

  // Deleted while the broker is down: the finalizer still goes, and an Event says what was left.
  servers_->stopBroker();
  ASSERT_EQ(kubectl("delete offloadpipeline orders --wait=false"), 0);
  ASSERT_TRUE(eventually([&] { return !client().get(api::offloadPipelines(), ns(), "orders").ok(); }, 60s));
  ASSERT_TRUE(eventually([&] {
    auto events = client().list(kube::resources::events(), ns(), {});
    return events.ok() && events->dump().find("CleanupIncomplete") != std::string::npos;
  }));
}

}  // namespace
}  // namespace warren::offload
