#include "offload/coordinator.h"

#include <map>

#include "common/log.h"

namespace warren::offload {
namespace {

const std::vector<double> kLatencyBuckets = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600};

}  // namespace

CoordinatorMetrics::CoordinatorMetrics(metrics::Registry& registry)
    : pointers(registry.counter("warren_offload_pointers_total", "Pointers the coordinator recorded, by outcome.",
                                {"outcome"})),
      acks(registry.counter("warren_offload_acks_total", "Recipient ACKs the coordinator recorded, by outcome.",
                            {"outcome"})),
      bytes_offloaded(registry.counter("warren_offload_bytes_offloaded_total",
                                       "Bytes of payloads stored in S3 that pointers announced.").get()),
      objects_deleted(registry.counter("warren_offload_objects_deleted_total",
                                       "Objects deleted after every recipient confirmed (or by expiry policy).").get()),
      checksum_failures(registry.counter("warren_offload_checksum_failures_total",
                                         "Refusals (negative ACKs) from recipients, such as a checksum mismatch.").get()),
      invalid_messages(registry.counter("warren_offload_invalid_messages_total",
                                        "Messages that were not valid pointers or ACKs (dead-lettered).").get()),
      orphans_found(registry.counter("warren_offload_orphans_found_total",
                                     "Uploads found without a pointer after the orphan age.").get()),
      orphans_deleted(registry.counter("warren_offload_orphans_deleted_total",
                                       "Orphan uploads deleted by the orphan policy.").get()),
      expired_reported(registry.counter("warren_offload_expired_total",
                                        "Objects past their expiry with ACKs missing.").get()),
      objects_outstanding(registry.gauge("warren_offload_objects_outstanding",
                                         "Objects recorded and not yet deleted (from the ledger).").get()),
      bytes_outstanding(registry.gauge("warren_offload_bytes_outstanding",
                                       "Bytes of objects recorded and not yet deleted (from the ledger).").get()),
      ack_latency(registry.histogram("warren_offload_ack_latency_seconds",
                                     "From a pointer's creation to its last recipient's ACK.", {}, kLatencyBuckets).get()),
      deletion_lag(registry.histogram("warren_offload_deletion_lag_seconds",
                                      "From the last ACK's arrival to the object's deletion.", {}, kLatencyBuckets).get()),
      dependency_up(registry.gauge("warren_offload_dependency_up",
                                   "1 when the coordinator last reached the dependency, 0 when it failed.",
                                   {"dependency"})) {}

Coordinator::Coordinator(Ledger& ledger, S3Client& s3, CoordinatorMetrics& metrics, CoordinatorSettings settings)
    : ledger_(ledger), s3_(s3), metrics_(metrics), settings_(std::move(settings)) {}

Status Coordinator::deleteIfComplete(const std::string& message_id) {
  auto deleted = ledger_.deleteIfComplete(message_id, [this](const std::string& bucket, const std::string& key) {
    return s3_.remove(bucket, key);
  });
  if (!deleted) return deleted.error();
  if (*deleted) {
    metrics_.objects_deleted.inc();
    metrics_.deletion_lag.observe((*deleted)->lag_seconds);
    metrics_.ack_latency.observe((*deleted)->ack_latency_seconds);
    log::debug("deleted", {log::Field("message_id", message_id), log::Field("bucket", (*deleted)->bucket),
                          log::Field("key", (*deleted)->key), log::Field("inline", (*deleted)->is_inline)});
  }
  return okStatus();
}

Status Coordinator::onMessage(MessageKind kind, const std::string& body) {
  if (kind == MessageKind::kPointer) {
    auto pointer = parsePointer(body);
    if (pointer) return onPointer(*pointer);
    metrics_.invalid_messages.inc();
    return pointer.error();
  }
  auto ack = parseAck(body);
  if (ack) return onAck(*ack);
  metrics_.invalid_messages.inc();
  return ack.error();
}

Status Coordinator::onPointer(const Pointer& pointer) {
  auto recorded = ledger_.recordPointer(pointer);
  if (!recorded) return recorded.error();
  metrics_.pointers.with({recordedName(*recorded)}).inc();
  if (*recorded == Recorded::kNew && !pointer.is_inline) metrics_.bytes_offloaded.inc(static_cast<double>(pointer.size));
  if (*recorded == Recorded::kConflict) {
    log::warn("pointer conflicts with an earlier one; the first is kept", {log::Field("message_id", pointer.message_id)});
  }
  // ACKs may have come first: the pointer can complete the object.
  return deleteIfComplete(pointer.message_id);
}

Status Coordinator::onAck(const Ack& ack) {
  auto recorded = ledger_.recordAck(ack);
  if (!recorded) return recorded.error();
  const char* outcome = !ack.ok && *recorded == Recorded::kNew ? "refused" : recordedName(*recorded);
  metrics_.acks.with({outcome}).inc();
  if (!ack.ok && *recorded == Recorded::kNew) {
    metrics_.checksum_failures.inc();
    log::warn("recipient refused a payload", {log::Field("message_id", ack.message_id),
                                              log::Field("recipient", ack.recipient), log::Field("detail", ack.detail)});
  }
  if (*recorded == Recorded::kUnknownRecipient) {
    log::warn("ACK from a recipient outside the pointer's set (ignored)",
              {log::Field("message_id", ack.message_id), log::Field("recipient", ack.recipient)});
  }
  if (!ack.ok) return okStatus();
  return deleteIfComplete(ack.message_id);
}

Result<int> Coordinator::rescan() {
  auto pending = ledger_.completeButNotDeleted(500);
  if (!pending) return pending.error();
  for (const auto& id : *pending) {
    if (auto deleted = deleteIfComplete(id); !deleted) return deleted.error();
  }
  return static_cast<int>(pending->size());
}

Status Coordinator::sweep() {
  auto expired = ledger_.takeNewlyExpired(500);
  if (!expired) return expired.error();
  for (const auto& object : *expired) {
    metrics_.expired_reported.inc();
    std::string missing;
    for (const auto& name : object.missing_recipients) missing += (missing.empty() ? "" : ",") + name;
    log::warn("object expired with ACKs missing", {log::Field("message_id", object.message_id),
                                                   log::Field("missing", missing),
                                                   log::Field("policy", settings_.expiry_policy == ExpiryPolicy::kDelete
                                                                            ? "Delete" : "Report")});
    if (settings_.expiry_policy == ExpiryPolicy::kDelete) {
      auto deleted = ledger_.deleteIfComplete(
          object.message_id, [this](const std::string& bucket, const std::string& key) { return s3_.remove(bucket, key); },
          /*even_incomplete=*/true, "expired with ACKs missing from " + missing);
      if (!deleted) return deleted.error();
      if (*deleted) metrics_.objects_deleted.inc();
    }
  }
  if (!settings_.bucket.empty()) {
    if (auto orphans = sweepOrphans(); !orphans) return orphans;
  }
  auto stats = ledger_.stats();
  if (!stats) return stats.error();
  metrics_.objects_outstanding.set(static_cast<double>(stats->outstanding));
  metrics_.bytes_outstanding.set(static_cast<double>(stats->outstanding_bytes));
  return okStatus();
}

Status Coordinator::sweepOrphans() {
  const auto cutoff = std::chrono::system_clock::now() - settings_.orphan_age;
  std::string token;
  do {
    auto page = s3_.list(settings_.bucket, settings_.key_prefix, token);
    if (!page) return page.error();
    std::vector<std::string> old_keys;
    std::map<std::string, uint64_t> sizes;
    for (const auto& object : page->objects) {
      const auto modified = parseTime(object.last_modified);  // S3's LastModified is RFC 3339
      if (modified && *modified < cutoff) {
        old_keys.push_back(object.key);
        sizes[object.key] = object.size;
      }
    }
    if (!old_keys.empty()) {
      auto known = ledger_.knownKeys(settings_.bucket, old_keys);
      if (!known) return known.error();
      for (const auto& key : old_keys) {
        if (known->count(key)) continue;
        if (auto handled = handleOrphan(key, sizes[key], [&] { return s3_.remove(settings_.bucket, key); }); !handled) {
          return handled;
        }
      }
    }
    token = page->next_continuation_token.value_or("");
  } while (!token.empty());
  return sweepPendingUploads();
}

Status Coordinator::sweepPendingUploads() {
  const auto cutoff = std::chrono::system_clock::now() - settings_.orphan_age;
  std::pair<std::string, std::string> markers;
  for (;;) {
    auto page = s3_.listPendingUploads(settings_.bucket, settings_.key_prefix, markers.first, markers.second);
    if (!page) return page.error();
    for (const auto& upload : page->uploads) {
      const auto initiated = parseTime(upload.initiated);
      if (!initiated || *initiated >= cutoff) continue;
      // Named apart from whole objects: a pending upload is not a key yet.
      const std::string name = upload.key + "#upload=" + upload.upload_id;
      if (auto handled = handleOrphan(name, 0, [&] { return s3_.abortMultipart(settings_.bucket, upload.key, upload.upload_id); });
          !handled) {
        return handled;
      }
    }
    if (!page->next_markers) return okStatus();
    markers = *page->next_markers;
  }
}

Status Coordinator::handleOrphan(const std::string& name, uint64_t size, const std::function<Status()>& remove) {
  const bool removing = settings_.orphan_policy == ExpiryPolicy::kDelete;
  if (removing) {
    if (auto removed = remove(); !removed) return removed;
  }
  auto fresh = ledger_.recordOrphan(settings_.bucket, name, size, removing);
  if (!fresh) return fresh.error();
  if (*fresh) metrics_.orphans_found.inc();
  if (removing) metrics_.orphans_deleted.inc();
  if (*fresh || removing) {
    log::warn(removing ? "orphan upload deleted" : "orphan upload found (no pointer)",
              {log::Field("bucket", settings_.bucket), log::Field("name", name)});
  }
  return okStatus();
}

}  // namespace warren::offload
