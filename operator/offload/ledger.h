// Ledger: the offload pipeline's bookkeeping in PostgreSQL (libpqxx), the
// one place that decides when an object may be deleted.
//
// One row per object (from its pointer: the recipient set), one row per
// (object, recipient) ACK under a unique key, so duplicates count once and an
// ACK may arrive before its pointer. An object is deleted when every
// recipient in its set has ACKed ok: the deletion is claimed by locking the
// row (FOR UPDATE SKIP LOCKED, so racing coordinators never both claim it),
// the S3 object removed while the lock is held, and the row marked deleted
// in the same transaction; a coordinator that dies mid-way releases the lock
// with its connection and the claim is made again later. An audit table
// records what is worth explaining afterwards: duplicates, conflicts,
// unknown recipients, refusals, deletions (by which coordinator), expiries
// and orphans. Every libpqxx exception is caught here and returned as an
// Error; a lost connection is re-opened on the next call.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "offload/pointer.h"

namespace warren::offload {

inline constexpr int kLedgerSchemaVersion = 1;

enum class Recorded {
  kNew,
  kDuplicate,         // the same message again: nothing changed
  kConflict,          // same message id, different content: kept the first, audited
  kUnknownRecipient,  // an ACK from someone outside the pointer's recipient set
};
const char* recordedName(Recorded recorded);

struct Deletion {
  std::string message_id;
  std::string bucket;
  std::string key;
  bool is_inline = false;
  uint64_t size = 0;
  // From the last ACK's arrival to the deletion, and from the pointer's creation to the last ACK.
  double lag_seconds = 0;
  double ack_latency_seconds = 0;
};

struct ExpiredObject {
  std::string message_id;
  std::vector<std::string> missing_recipients;
};

struct LedgerStats {
  long long outstanding = 0;       // recorded, not deleted
  long long deleted = 0;
  long long expired_reported = 0;  // past expiry with ACKs missing
  long long refused = 0;           // objects with a refusal (NACK) on record
  long long orphans_found = 0;
  long long orphans_deleted = 0;
  long long outstanding_bytes = 0;
};

class Ledger {
 public:
  // `schema` holds the tables ([a-z_][a-z0-9_]*, one per pipeline); `actor`
  // names this coordinator in the audit trail.
  static Result<std::unique_ptr<Ledger>> open(std::string uri, std::string schema, std::string actor);
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Creates or upgrades the tables, one version at a time, under an advisory
  // lock so that coordinators starting together do it once.
  Status migrate();
  Result<int> schemaVersion();
  Status ping();

  Result<Recorded> recordPointer(const Pointer& pointer);
  Result<Recorded> recordAck(const Ack& ack);

  // Deletes `message_id` when every recipient ACKed ok (or, when
  // `even_incomplete`, regardless: an expiry policy), calling `remove` for a
  // stored object while the claim is held. nullopt when there is nothing to
  // delete now (incomplete, already deleted, or claimed by another coordinator).
  using Remover = std::function<Status(const std::string& bucket, const std::string& key)>;
  Result<std::optional<Deletion>> deleteIfComplete(const std::string& message_id, const Remover& remove,
                                                   bool even_incomplete = false, const std::string& reason = "");
  // Objects complete but not deleted (a coordinator died mid-deletion, or an
  // ACK raced a pointer): the rescan deletes them.
  Result<std::vector<std::string>> completeButNotDeleted(int limit);
  // Objects past their expiry with ACKs missing, not yet reported; marks them reported.
  Result<std::vector<ExpiredObject>> takeNewlyExpired(int limit);
  // Which of `keys` in `bucket` the ledger knows (they have a pointer).
  Result<std::set<std::string>> knownKeys(const std::string& bucket, const std::vector<std::string>& keys);
  // Records an orphan (an upload without a pointer); true when it is new.
  Result<bool> recordOrphan(const std::string& bucket, const std::string& key, uint64_t size, bool deleted);
  Result<LedgerStats> stats();
  // Drops the schema with every table in it (a pipeline deleted with
  // deletionPolicy Delete); an absent schema is no error.
  Status dropSchema();
  // The audit trail of one message, oldest first: "event actor detail".
  Result<std::vector<std::string>> auditOf(const std::string& message_id);

 private:
  struct Session;  // the libpqxx connection, kept out of this header
  Ledger(std::string uri, std::string schema, std::string actor);
  Result<Session*> connection();
  template <typename Fn>
  auto guarded(const char* what, Fn&& fn) -> decltype(fn());
  std::string table(const char* name) const;

  std::string uri_;
  std::string schema_;
  std::string actor_;
  std::unique_ptr<Session> connection_;
};

}  // namespace warren::offload
