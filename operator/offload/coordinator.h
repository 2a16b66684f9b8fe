// Coordinator: what warren-offload-coordinator does with each message and on
// each sweep, apart from the AMQP plumbing, so tests drive it directly
// against a real PostgreSQL and S3 server. Pointers and ACKs go to the
// ledger; whenever one may complete an object, the coordinator tries the
// deletion claim. The sweep deletes what a dead coordinator left complete,
// reports (or, by policy, deletes) objects past their expiry with ACKs
// missing, and finds uploads that never got a pointer (whole objects, and
// multipart uploads a producer began and never finished).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "common/result.h"
#include "offload/ledger.h"
#include "offload/pointer.h"
#include "offload/s3_client.h"
#include "runtime/metrics.h"

namespace warren::offload {

enum class ExpiryPolicy { kReport, kDelete };

struct CoordinatorSettings {
  std::string bucket;        // where this pipeline's uploads go (for the orphan sweep)
  std::string key_prefix;    // and under which prefix
  ExpiryPolicy expiry_policy = ExpiryPolicy::kReport;
  ExpiryPolicy orphan_policy = ExpiryPolicy::kReport;
  // An upload without a pointer older than this is an orphan.
  std::chrono::seconds orphan_age{3600};
};

// The coordinator's Prometheus series.
struct CoordinatorMetrics {
  explicit CoordinatorMetrics(metrics::Registry& registry);
  metrics::Family<metrics::Counter>& pointers;  // by outcome
  metrics::Family<metrics::Counter>& acks;      // by outcome
  metrics::Counter& bytes_offloaded;
  metrics::Counter& objects_deleted;
  metrics::Counter& checksum_failures;
  metrics::Counter& invalid_messages;
  metrics::Counter& orphans_found;
  metrics::Counter& orphans_deleted;
  metrics::Counter& expired_reported;
  metrics::Gauge& objects_outstanding;
  metrics::Gauge& bytes_outstanding;
  metrics::Histogram& ack_latency;
  metrics::Histogram& deletion_lag;
  // 1 when the coordinator last reached it, 0 when it failed (rabbitmq, s3, database).
  metrics::Family<metrics::Gauge>& dependency_up;
};

class Coordinator {
 public:
  Coordinator(Ledger& ledger, S3Client& s3, CoordinatorMetrics& metrics, CoordinatorSettings settings);

  enum class MessageKind { kPointer, kAck };
  // Parses and handles one message off the ledger queue (a pointer) or the
  // ACK queue. Error reason "InvalidMessage": it can never be handled
  // (dead-letter it); any other Error: deliver it again later.
  Status onMessage(MessageKind kind, const std::string& body);

  // An Error means nothing was acknowledged: the message must be delivered again.
  Status onPointer(const Pointer& pointer);
  Status onAck(const Ack& ack);
  // Deletes what is complete but not deleted; returns how many.
  Result<int> rescan();
  // Expiry, orphans and the outstanding gauges.
  Status sweep();

 private:
  Status deleteIfComplete(const std::string& message_id);
  Status sweepOrphans();
  Status sweepPendingUploads();
  // Reports (and by policy removes) one orphan; `remove` does the removing.
  Status handleOrphan(const std::string& name, uint64_t size, const std::function<Status()>& remove);

  Ledger& ledger_;
  S3Client& s3_;
  CoordinatorMetrics& metrics_;
  CoordinatorSettings settings_;
};

}  // namespace warren::offload
