// The coordinator's guarantees on a real PostgreSQL and a real S3 server
// (versitygw), driven message by message: duplicates, ACKs before pointers,
// any order, strangers' ACKs, refusals, racing coordinators, expiry and
// orphans. In every case no object is deleted before all of its recipients
// confirmed, and each is deleted exactly once.
#include <algorithm>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "live_cluster.h"
#include "offload/coordinator.h"
#include "offload/ledger.h"
#include "offload/s3_client.h"
#include "offload_servers.h"
#include "servers_suite.h"

namespace warren::offload {
namespace {

using testing::OffloadServers;

constexpr char kGuaranteesBucket[] = "guarantees";

class OffloadGuaranteesTest : public testing::ServersSuite</*with_broker=*/false, kGuaranteesBucket> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(setup_) << setup_.error().message;
    schema_ = "t_" + lowercaseTestName();
    auto s3 = S3Client::create(servers_->s3Config());
    ASSERT_TRUE(s3) << s3.error().message;
    s3_ = std::move(*s3);
    ledger_ = openLedger("coordinator-a");
    ASSERT_TRUE(ledger_->migrate()) << "migrate";
    coordinator_ = std::make_unique<Coordinator>(*ledger_, *s3_, metrics_, CoordinatorSettings{kBucket, schema_ + "/"});
  }

  std::unique_ptr<Ledger> openLedger(const std::string& actor) {
    auto ledger = Ledger::open(servers_->databaseUri(), schema_, actor);
    EXPECT_TRUE(ledger) << ledger.error().message;
    return ledger ? std::move(*ledger) : nullptr;
  }

  // Uploads a payload and returns its pointer for `recipients`.
  Pointer stored(const std::string& id, std::vector<std::string> recipients = {"alpha", "beta"}) {
    const std::string payload = "payload of " + id + std::string(1000, 'x');
    size_t at = 0;
    auto uploaded = s3_->upload(kBucket, schema_ + "/" + id, [&](char* buffer, size_t capacity) -> Result<size_t> {
      const size_t n = std::min(capacity, payload.size() - at);
      std::copy_n(payload.data() + at, n, buffer);
      at += n;
      return n;
    }, "text/plain");
    EXPECT_TRUE(uploaded) << uploaded.error().message;
    Pointer pointer;
    pointer.message_id = id;
    pointer.producer = "test";
    pointer.bucket = kBucket;
    pointer.key = schema_ + "/" + id;
    pointer.size = uploaded ? uploaded->size : 0;
    pointer.sha256 = uploaded ? uploaded->sha256 : std::string(64, '0');
    std::sort(recipients.begin(), recipients.end());
    pointer.recipients = recipients;
    pointer.created_at = std::chrono::system_clock::now();
    return pointer;
  }

  static Ack ack(const std::string& id, const std::string& recipient, bool ok = true) {
    Ack a;
    a.message_id = id;
    a.recipient = recipient;
    a.ok = ok;
    a.sha256_verified = ok;
    a.detail = ok ? "" : "sha256 mismatch";
    a.acked_at = std::chrono::system_clock::now();
    return a;
  }

  bool objectExists(const Pointer& pointer) { return s3_->head(pointer.bucket, pointer.key).ok(); }

  // The audit events of `id`, e.g. {"deleted", "unknown_recipient"}.
  std::vector<std::string> events(const std::string& id) {
    std::vector<std::string> names;
    auto audit = ledger_->auditOf(id);
    EXPECT_TRUE(audit) << audit.error().message;
    if (!audit) return names;
    for (const auto& line : *audit) names.push_back(line.substr(0, line.find(' ')));
    return names;
  }
  int deletions(const std::string& id) {
    const auto names = events(id);
    return static_cast<int>(std::count(names.begin(), names.end(), "deleted"));
  }

  std::string schema_;
  metrics::Registry registry_;
  CoordinatorMetrics metrics_{registry_};
  std::unique_ptr<S3Client> s3_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<Coordinator> coordinator_;
};

TEST_F(OffloadGuaranteesTest, DeletesOnlyAfterEveryRecipientConfirmed) {
  const Pointer pointer = stored("m1");
  ASSERT_TRUE(coordinator_->onPointer(pointer));
  ASSERT_TRUE(coordinator_->onAck(ack("m1", "alpha")));
  EXPECT_TRUE(objectExists(pointer)) << "deleted after one of two recipients";
  ASSERT_TRUE(coordinator_->onAck(ack("m1", "beta")));
  EXPECT_FALSE(objectExists(pointer));
  EXPECT_EQ(deletions("m1"), 1);
  EXPECT_EQ(servers_->s3Deletes(kBucket, pointer.key), 1);
}

TEST_F(OffloadGuaranteesTest, DuplicatePointersAndAcksCountOnce) {
  const Pointer pointer = stored("m2");
  ASSERT_TRUE(coordinator_->onPointer(pointer));
  ASSERT_TRUE(coordinator_->onPointer(pointer));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(coordinator_->onAck(ack("m2", "alpha")));
  EXPECT_TRUE(objectExists(pointer)) << "three ACKs from alpha must not stand in for beta";
  ASSERT_TRUE(coordinator_->onAck(ack("m2", "beta")));
  ASSERT_TRUE(coordinator_->onAck(ack("m2", "beta")));
  ASSERT_TRUE(coordinator_->onPointer(pointer));
  EXPECT_FALSE(objectExists(pointer));
  EXPECT_EQ(deletions("m2"), 1);
  EXPECT_EQ(servers_->s3Deletes(kBucket, pointer.key), 1);
  auto stats = ledger_->stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->deleted, 1);
  EXPECT_EQ(stats->outstanding, 0);
}

TEST_F(OffloadGuaranteesTest, AcksBeforeThePointerCompleteItWhenItArrives) {
  const Pointer pointer = stored("m3");
  ASSERT_TRUE(coordinator_->onAck(ack("m3", "beta")));
  ASSERT_TRUE(coordinator_->onAck(ack("m3", "alpha")));
  EXPECT_TRUE(objectExists(pointer)) << "no pointer yet: the recipient set is unknown";
  ASSERT_TRUE(coordinator_->onPointer(pointer));
  EXPECT_FALSE(objectExists(pointer));
  EXPECT_EQ(deletions("m3"), 1);
}

TEST_F(OffloadGuaranteesTest, AnyOrderOfDeliveryDeletesEachObjectOnceAfterItsLastAck) {
  std::mt19937 random(20261202);
  for (int n = 0; n < 30; ++n) {
    const std::string id = "order-" + std::to_string(n);
    const Pointer pointer = stored(id, {"alpha", "beta", "gamma"});
    // The pointer, three ACKs and a duplicate of each, shuffled.
    std::vector<int> steps = {0, 0, 1, 1, 2, 2, 3, 3};
    std::shuffle(steps.begin(), steps.end(), random);
    std::set<int> seen;
    for (int step : steps) {
      ASSERT_TRUE(step == 0 ? coordinator_->onPointer(pointer)
                            : coordinator_->onAck(ack(id, std::vector<std::string>{"", "alpha", "beta", "gamma"}[step])));
      seen.insert(step);
      EXPECT_EQ(objectExists(pointer), seen.size() < 4) << id << " after steps seen " << seen.size();
    }
    EXPECT_EQ(deletions(id), 1) << id;
  }
}

TEST_F(OffloadGuaranteesTest, AnAckFromAStrangerIsRecordedAndIgnored) {
  const Pointer pointer = stored("m4");
  ASSERT_TRUE(coordinator_->onAck(ack("m4", "mallory")));  // before the pointer
  ASSERT_TRUE(coordinator_->onPointer(pointer));
  ASSERT_TRUE(coordinator_->onAck(ack("m4", "alpha")));
  ASSERT_TRUE(coordinator_->onAck(ack("m4", "eve")));  // after it
  EXPECT_TRUE(objectExists(pointer)) << "strangers' ACKs must not count for beta";
  const auto names = events("m4");
  EXPECT_EQ(std::count(names.begin(), names.end(), "unknown_recipient"), 2);
  ASSERT_TRUE(coordinator_->onAck(ack("m4", "beta")));
  EXPECT_FALSE(objectExists(pointer));
}

TEST_F(OffloadGuaranteesTest, ARefusalIsRecordedAndKeepsTheObject) {
  const Pointer pointer = stored("m5");
  ASSERT_TRUE(coordinator_->onPointer(pointer));
  ASSERT_TRUE(coordinator_->onAck(ack("m5", "alpha")));
  ASSERT_TRUE(coordinator_->onAck(ack("m5", "beta", /*ok=*/false)));
  EXPECT_TRUE(objectExists(pointer)) << "a refusal is not a confirmation";
  const auto names = events("m5");
  EXPECT_NE(std::find(names.begin(), names.end(), "refused"), names.end());
  auto stats = ledger_->stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->refused, 1);
  EXPECT_EQ(stats->outstanding, 1);
  // A later successful read by the same recipient confirms it.
  ASSERT_TRUE(coordinator_->onAck(ack("m5", "beta")));
  EXPECT_FALSE(objectExists(pointer));
}

TEST_F(OffloadGuaranteesTest, AConflictingPointerKeepsTheFirst) {
  const Pointer pointer = stored("m6");
  ASSERT_TRUE(coordinator_->onPointer(pointer));
  Pointer other = pointer;
  other.sha256 = std::string(64, 'a');
  other.recipients = {"alpha"};
  ASSERT_TRUE(coordinator_->onPointer(other));
  ASSERT_TRUE(coordinator_->onAck(ack("m6", "alpha")));
  EXPECT_TRUE(objectExists(pointer)) << "the second pointer's recipient set must not replace the first";
  const auto names = events("m6");
  EXPECT_NE(std::find(names.begin(), names.end(), "pointer_conflict"), names.end());
}

TEST_F(OffloadGuaranteesTest, InlinePayloadsAreDeletedInTheLedgerOnly) {
  Pointer pointer;
  pointer.message_id = "inline-1";
  pointer.producer = "test";
  pointer.is_inline = true;
  pointer.inline_data = "small";
  pointer.size = 5;
  pointer.sha256 = std::string(64, 'b');
  pointer.recipients = {"alpha"};
  pointer.created_at = std::chrono::system_clock::now();
  ASSERT_TRUE(coordinator_->onPointer(pointer));
  ASSERT_TRUE(coordinator_->onAck(ack("inline-1", "alpha")));
  EXPECT_EQ(deletions("inline-1"), 1);
}

TEST_F(OffloadGuaranteesTest, RacingCoordinatorsDeleteEachObjectExactlyOnce) {
  constexpr int kObjects = 60;
  std::vector<Pointer> pointers;
  for (int n = 0; n < kObjects; ++n) pointers.push_back(stored("race-" + std::to_string(n)));
  // Two coordinators, each with its own database connection and S3 client,
  // both given every message (as redeliveries after a failover would).
  auto run = [&](const std::string& actor, unsigned seed) {
    auto ledger = openLedger(actor);
    auto s3 = S3Client::create(servers_->s3Config());
    ASSERT_TRUE(ledger && s3);
    metrics::Registry registry;
    CoordinatorMetrics metrics(registry);
    Coordinator coordinator(*ledger, **s3, metrics, CoordinatorSettings{kBucket, schema_ + "/"});
    std::mt19937 random(seed);
    std::vector<std::pair<int, int>> steps;
    for (int n = 0; n < kObjects; ++n) {
      for (int step = 0; step < 3; ++step) steps.emplace_back(n, step);
    }
    std::shuffle(steps.begin(), steps.end(), random);
    for (const auto& [n, step] : steps) {
      const std::string id = "race-" + std::to_string(n);
      Status done = step == 0 ? coordinator.onPointer(pointers[n]) : coordinator.onAck(ack(id, step == 1 ? "alpha" : "beta"));
      ASSERT_TRUE(done) << done.error().message;
    }
  };
  std::thread a(run, "coordinator-a", 1);
  std::thread b(run, "coordinator-b", 2);
  a.join();
  b.join();
  // A claim skipped while the other held it is finished by the rescan.
  auto rescanned = coordinator_->rescan();
  ASSERT_TRUE(rescanned) << rescanned.error().message;
  for (const auto& pointer : pointers) {
    EXPECT_FALSE(objectExists(pointer)) << pointer.message_id;
    EXPECT_EQ(deletions(pointer.message_id), 1) << pointer.message_id;
    EXPECT_EQ(servers_->s3Deletes(kBucket, pointer.key), 1) << pointer.message_id;
  }
}

TEST_F(OffloadGuaranteesTest, ExpiredObjectsAreReportedOrDeletedByPolicy) {
  Pointer reported = stored("expired-report");
  reported.expires_at = std::chrono::system_clock::now() - std::chrono::seconds(1);
  ASSERT_TRUE(coordinator_->onPointer(reported));
  ASSERT_TRUE(coordinator_->onAck(ack("expired-report", "alpha")));
  ASSERT_TRUE(coordinator_->sweep());
  EXPECT_TRUE(objectExists(reported)) << "Report keeps the object";
  auto names = events("expired-report");
  EXPECT_EQ(std::count(names.begin(), names.end(), "expired"), 1);
  ASSERT_TRUE(coordinator_->sweep());
  names = events("expired-report");
  EXPECT_EQ(std::count(names.begin(), names.end(), "expired"), 1) << "reported once";

  CoordinatorSettings deleting{kBucket, schema_ + "/"};
  deleting.expiry_policy = ExpiryPolicy::kDelete;
  Coordinator deleter(*ledger_, *s3_, metrics_, deleting);
  Pointer doomed = stored("expired-delete");
  doomed.expires_at = std::chrono::system_clock::now() - std::chrono::seconds(1);
  ASSERT_TRUE(deleter.onPointer(doomed));
  ASSERT_TRUE(deleter.sweep());
  EXPECT_FALSE(objectExists(doomed));
  EXPECT_EQ(deletions("expired-delete"), 1);
}

TEST_F(OffloadGuaranteesTest, UploadsWithoutAPointerAreFoundAsOrphans) {
  const Pointer with_pointer = stored("kept");
  ASSERT_TRUE(coordinator_->onPointer(with_pointer));
  const Pointer orphan = stored("orphan");  // uploaded, never announced
  CoordinatorSettings settings{kBucket, schema_ + "/"};
  settings.orphan_age = std::chrono::seconds(0);
  settings.orphan_policy = ExpiryPolicy::kReport;
  Coordinator reporter(*ledger_, *s3_, metrics_, settings);
  ASSERT_TRUE(reporter.sweep());
  auto stats = ledger_->stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->orphans_found, 1);
  EXPECT_TRUE(objectExists(orphan));
  settings.orphan_policy = ExpiryPolicy::kDelete;
  Coordinator cleaner(*ledger_, *s3_, metrics_, settings);
  ASSERT_TRUE(cleaner.sweep());
  EXPECT_FALSE(objectExists(orphan));
  EXPECT_TRUE(objectExists(with_pointer)) << "an object with a pointer is never an orphan";
  stats = ledger_->stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->orphans_deleted, 1);
}

TEST_F(OffloadGuaranteesTest, MultipartUploadsAProducerNeverFinishedAreOrphansToo) {
  // A producer that died mid-upload: a multipart upload begun, never completed.
  const std::string key = schema_ + "/half-uploaded";
  const std::string initiate = std::string("curl -sf -o /dev/null -X POST --aws-sigv4 aws:amz:us-east-1:s3 -u ") +
                               OffloadServers::kAccessKey + ":" + OffloadServers::kSecretKey +
                               " -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' '" + servers_->s3Endpoint() + "/" +
                               kBucket + "/" + key + "?uploads='";
  ASSERT_EQ(std::system(initiate.c_str()), 0);
  auto pending = s3_->listPendingUploads(kBucket, schema_ + "/");
  ASSERT_TRUE(pending) << pending.error().message;
  ASSERT_EQ(pending->uploads.size(), 1u);
  EXPECT_EQ(pending->uploads[0].key, key);
  CoordinatorSettings settings{kBucket, schema_ + "/"};
  settings.orphan_age = std::chrono::seconds(0);
  Coordinator reporter(*ledger_, *s3_, metrics_, settings);
  ASSERT_TRUE(reporter.sweep());
  auto stats = ledger_->stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->orphans_found, 1);
  EXPECT_EQ(s3_->listPendingUploads(kBucket, schema_ + "/")->uploads.size(), 1u) << "Report keeps it";
  settings.orphan_policy = ExpiryPolicy::kDelete;
  Coordinator cleaner(*ledger_, *s3_, metrics_, settings);
  ASSERT_TRUE(cleaner.sweep());
  EXPECT_TRUE(s3_->listPendingUploads(kBucket, schema_ + "/")->uploads.empty()) << "Delete aborts it";
  stats = ledger_->stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->orphans_deleted, 1);
}

TEST_F(OffloadGuaranteesTest, TheSchemaIsVersionedAndMigratedOnce) {
  auto version = ledger_->schemaVersion();
  ASSERT_TRUE(version);
  EXPECT_EQ(*version, kLedgerSchemaVersion);
  // Several coordinators starting together.
  std::vector<std::thread> starters;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    starters.emplace_back([&, i] {
      auto ledger = openLedger("starter-" + std::to_string(i));
      if (!ledger || !ledger->migrate()) ++failures;
    });
  }
  for (auto& t : starters) t.join();
  EXPECT_EQ(failures, 0);
}

}  // namespace
}  // namespace warren::offload
