// Seed 001 on a 3-node cluster rendered by warren: quorum queues, and a
// RabbitMQ node stopped mid-run. The brokers run in network namespaces (the
// fixture); versitygw and PostgreSQL on loopback; producer, recipients and
// coordinator on the host, given all three nodes. Every process first
// connects to node 0, which is then stopped: all must reconnect to the
// others, and every object must still be deleted exactly once, after both
// recipients confirmed it.
#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dataplane_fixture.h"
#include "offload/ledger.h"
#include "offload/s3_client.h"
#include "offload_servers.h"
#include "process.h"

namespace warren::dataplane {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using offload::testing::OffloadServers;

TEST_F(DataPlaneTest, OffloadSurvivesLosingARabbitmqNodeOfThree) {
  constexpr int kMessages = 30;
  renderFor({{"replicas", 3}});
  nodes_.reserve(3);
  for (int i = 0; i < 3; ++i) start(i, cookie_);
  const std::set<std::string> all = {cluster_.nodeName(0), cluster_.nodeName(1), cluster_.nodeName(2)};
  ASSERT_TRUE(eventually([&] { return runningNodes(nodes_[0]) == all; }, 180s)) << logTail(nodes_[0]);

  OffloadServers servers;
  ASSERT_TRUE(servers.startAll(/*with_broker=*/false));
  auto s3 = offload::S3Client::create(servers.s3Config());
  ASSERT_TRUE(s3);
  ASSERT_TRUE((*s3)->createBucket("seed001"));
  std::string uri = "amqp://" + username_ + ":" + password_ + "@";
  for (int i = 0; i < 3; ++i) uri += (i ? "," : "") + nodeIp(i) + ":5672";
  std::vector<std::string> env = servers.programEnv("seed001", "seed001");
  env.push_back("WARREN_AMQP_URI=" + uri + "/");  // replaces the loopback broker's
  auto run = [&](std::vector<std::string> argv, const std::string& log) {
    const pid_t pid = warren::testing::spawnProcess(argv, {root_ / log, env});
    if (pid > 0) programs_.push_back(pid);
    servers.track(pid);
    return pid;
  };
  run({WARREN_OFFLOAD_COORDINATOR, "--metrics-address", "", "--rescan-interval", "1s"}, "coordinator.log");
  for (const char* recipient : {"alpha", "beta"}) {
    run({WARREN_OFFLOAD_CONSUMER, "--recipient", recipient}, std::string("consumer-") + recipient + ".log");
  }
  const pid_t producer = warren::testing::spawnProcess(
      {WARREN_OFFLOAD_PRODUCER, "--recipients", "alpha,beta", "--size", "64KiB", "--count", std::to_string(kMessages)},
      {root_ / "producer.out", env});
  // Node 0 goes once the first pointers are through.
  ASSERT_TRUE(eventually([&] { return logTail(root_ / "producer.out").find("message_id") != std::string::npos; }, 60s))
      << logTail(root_ / "producer.out");
  stop(nodes_[0]);
  int status = -1;
  waitpid(producer, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << logTail(root_ / "producer.out");

  auto ledger = offload::Ledger::open(servers.databaseUri(), "warren_offload", "test");
  ASSERT_TRUE(ledger);
  ASSERT_TRUE(eventually([&] {
    auto stats = (*ledger)->stats();
    return stats && stats->deleted == kMessages;
  }, 180s)) << logTail(root_ / "coordinator.log") << logTail(root_ / "consumer-alpha.log");
  std::ifstream produced(root_ / "producer.out");
  int checked = 0;
  for (std::string line; std::getline(produced, line);) {
    const auto entry = nlohmann::json::parse(line, nullptr, false);
    if (!entry.is_object() || !entry.contains("message_id")) continue;
    auto audit = (*ledger)->auditOf(entry["message_id"]);
    ASSERT_TRUE(audit);
    EXPECT_EQ(std::count_if(audit->begin(), audit->end(), [](const std::string& l) { return l.rfind("deleted ", 0) == 0; }), 1);
    ++checked;
  }
  EXPECT_EQ(checked, kMessages);
  auto stats = (*ledger)->stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->refused, 0) << "a recipient found an object missing";
  auto left = (*s3)->list("seed001", "seed001/");
  ASSERT_TRUE(left);
  EXPECT_TRUE(left->objects.empty());
  // Every program started on node 0 and carried on through another node.
  for (const char* log : {"coordinator.log", "consumer-alpha.log", "consumer-beta.log"}) {
    const std::string output = warren::testing::readTextFile(root_ / log);
    EXPECT_NE(output.find("consuming"), std::string::npos) << log;
    EXPECT_NE(output.find("broker=" + nodeIp(0)), std::string::npos) << log << " did not start on node 0";
    EXPECT_TRUE(output.find("broker=" + nodeIp(1)) != std::string::npos ||
                output.find("broker=" + nodeIp(2)) != std::string::npos)
        << log << " never reconnected to node 1 or 2:\n" << logTail(root_ / log);
  }
}

}  // namespace
}  // namespace warren::dataplane
