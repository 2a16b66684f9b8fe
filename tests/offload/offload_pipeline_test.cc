// OffloadPipeline end to end on the local control plane, with real servers
// (loopback_cluster.h): the example's manifests applied with kubectl, its
// MinIO and PostgreSQL stand-ins replaced by the loopback servers.
// The coordinator Deployment's pods are kwok's (the real-node issue brings
// real pods); the coordinator and the programs run here as processes, from
// the config and binding Secrets warren rendered, exactly as the pods would.
#include <sys/wait.h>

#include <fstream>

#include "loopback_cluster.h"

namespace warren::offload {
namespace {

using namespace testing;
using namespace std::chrono_literals;

constexpr int kPayloads = 20;

class OffloadPipelineTest : public LoopbackClusterTest {};

TEST_F(OffloadPipelineTest, FromKubectlApplyToEveryObjectDeletedOnce) {
  ASSERT_NO_FATAL_FAILURE(applyBrokerCluster(OffloadServers::kSecretKey));

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
  putSecret("offload-s3-credentials", {{"AWS_ACCESS_KEY_ID", OffloadServers::kAccessKey},
                                       {"AWS_SECRET_ACCESS_KEY", OffloadServers::kSecretKey}});
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
