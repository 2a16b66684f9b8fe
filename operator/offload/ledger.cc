#include "offload/ledger.h"

#include <pqxx/pqxx>

#include <nlohmann/json.hpp>

#include "api/offload_pipeline.h"

namespace warren::offload {
namespace {

// Serialises migrations across coordinators (any constant unique to warren).
constexpr long long kMigrationLock = 0x77617272656e01;

std::string jsonList(const std::vector<std::string>& values) { return nlohmann::json(values).dump(); }

// SQL for "the recipients of object o that have not ACKed ok".
std::string missingRecipients(const std::string& acks) {
  return "SELECT r FROM unnest(o.recipients) AS r WHERE NOT EXISTS (SELECT 1 FROM " + acks +
         " a WHERE a.message_id = o.message_id AND a.recipient = r AND a.ok)";
}

}  // namespace

struct Ledger::Session {
  explicit Session(const std::string& uri) : connection(uri) {}
  pqxx::connection connection;
};

const char* recordedName(Recorded recorded) {
  switch (recorded) {
    case Recorded::kNew: return "new";
    case Recorded::kDuplicate: return "duplicate";
    case Recorded::kConflict: return "conflict";
    case Recorded::kUnknownRecipient: return "unknown_recipient";
  }
  return "unknown";
}

Ledger::Ledger(std::string uri, std::string schema, std::string actor)
    : uri_(std::move(uri)), schema_(std::move(schema)), actor_(std::move(actor)) {}

Ledger::~Ledger() = default;

Result<std::unique_ptr<Ledger>> Ledger::open(std::string uri, std::string schema, std::string actor) {
  if (uri.empty()) return Error::local("InvalidConfig", "database URI: must not be empty");
  if (!api::isPostgresIdentifier(schema)) {
    return Error::local("InvalidConfig", "database schema: '" + schema + "' is not a name of [a-z0-9_], 1-63");
  }
  std::unique_ptr<Ledger> ledger(new Ledger(std::move(uri), std::move(schema), std::move(actor)));
  if (auto connected = ledger->connection(); !connected) return connected.error();
  return ledger;
}

std::string Ledger::table(const char* name) const { return "\"" + schema_ + "\"." + name; }

Result<Ledger::Session*> Ledger::connection() {
  if (connection_ && connection_->connection.is_open()) return connection_.get();
  connection_.reset();
  try {
    connection_ = std::make_unique<Session>(uri_);
    return connection_.get();
  } catch (const std::exception& e) {
    // libpq's message names the host and port, never the password.
    return Error::local("DatabaseUnreachable", std::string("cannot connect to the database: ") + e.what());
  }
}

template <typename Fn>
auto Ledger::guarded(const char* what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const pqxx::broken_connection& e) {
    connection_.reset();
    return Error::local("DatabaseUnreachable", std::string(what) + ": " + e.what());
  } catch (const pqxx::in_doubt_error& e) {
    connection_.reset();
    return Error::local("DatabaseUnreachable", std::string(what) + ": commit in doubt: " + e.what());
  } catch (const pqxx::sql_error& e) {
    return Error::local("DatabaseError", std::string(what) + ": " + e.what() + " (SQLSTATE " + e.sqlstate() + ")");
  } catch (const std::exception& e) {
    connection_.reset();
    return Error::local("DatabaseError", std::string(what) + ": " + e.what());
  }
}

Status Ledger::ping() {
  return guarded("ping", [&]() -> Status {
    auto conn = connection();
    if (!conn) return conn.error();
    pqxx::nontransaction txn((*conn)->connection);
    txn.exec("SELECT 1");
    return okStatus();
  });
}

Result<int> Ledger::schemaVersion() {
  return guarded("schema version", [&]() -> Result<int> {
    auto conn = connection();
    if (!conn) return conn.error();
    pqxx::nontransaction txn((*conn)->connection);
    const auto exists = txn.exec_params1("SELECT to_regclass($1) IS NOT NULL", schema_ + ".schema_version");
    if (!exists[0].as<bool>()) return 0;
    return txn.exec1("SELECT coalesce(max(version), 0) FROM " + table("schema_version"))[0].as<int>();
  });
}

Status Ledger::migrate() {
  return guarded("migrate", [&]() -> Status {
    auto conn = connection();
    if (!conn) return conn.error();
    pqxx::work txn((*conn)->connection);
    txn.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLock);
    txn.exec("CREATE SCHEMA IF NOT EXISTS \"" + schema_ + "\"");
    txn.exec("CREATE TABLE IF NOT EXISTS " + table("schema_version") +
             " (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
    const int current = txn.exec1("SELECT coalesce(max(version), 0) FROM " + table("schema_version"))[0].as<int>();
    if (current > kLedgerSchemaVersion) {
      return Error::terminalError("DatabaseSchemaTooNew", "the ledger's schema is version " + std::to_string(current) +
                                                              "; this coordinator knows up to " +
                                                              std::to_string(kLedgerSchemaVersion));
    }
    if (current < 1) {
      txn.exec("CREATE TABLE " + table("objects") + R"( (
          message_id text PRIMARY KEY,
          bucket text NOT NULL,
          object_key text NOT NULL,
          is_inline boolean NOT NULL,
          size bigint NOT NULL,
          sha256 text NOT NULL,
          content_type text NOT NULL,
          compression text NOT NULL,
          producer text NOT NULL,
          recipients text[] NOT NULL,
          created_at timestamptz NOT NULL,
          expires_at timestamptz,
          recorded_at timestamptz NOT NULL DEFAULT now(),
          recorded_by text NOT NULL,
          expired_reported_at timestamptz,
          deleted_at timestamptz,
          deleted_by text,
          delete_reason text))");
      txn.exec("CREATE INDEX objects_outstanding ON " + table("objects") + " (created_at) WHERE deleted_at IS NULL");
      txn.exec("CREATE INDEX objects_by_key ON " + table("objects") + " (bucket, object_key)");
      txn.exec("CREATE TABLE " + table("acks") + R"( (
          message_id text NOT NULL,
          recipient text NOT NULL,
          ok boolean NOT NULL,
          sha256_verified boolean NOT NULL,
          detail text NOT NULL DEFAULT '',
          acked_at timestamptz NOT NULL,
          recorded_at timestamptz NOT NULL DEFAULT now(),
          recorded_by text NOT NULL,
          duplicates integer NOT NULL DEFAULT 0,
          PRIMARY KEY (message_id, recipient)))");
      txn.exec("CREATE TABLE " + table("orphans") + R"( (
          bucket text NOT NULL,
          object_key text NOT NULL,
          size bigint NOT NULL,
          found_at timestamptz NOT NULL DEFAULT now(),
          found_by text NOT NULL,
          deleted boolean NOT NULL DEFAULT false,
          PRIMARY KEY (bucket, object_key)))");
      txn.exec("CREATE TABLE " + table("audit") + R"( (
          id bigserial PRIMARY KEY,
          message_id text NOT NULL,
          event text NOT NULL,
          actor text NOT NULL,
          detail text NOT NULL DEFAULT '',
          at timestamptz NOT NULL DEFAULT now()))");
      txn.exec("CREATE INDEX audit_by_message ON " + table("audit") + " (message_id, id)");
      txn.exec("INSERT INTO " + table("schema_version") + " (version) VALUES (1)");
    }
    txn.commit();
    return okStatus();
  });
}

Result<Recorded> Ledger::recordPointer(const Pointer& pointer) {
  return guarded("record pointer", [&]() -> Result<Recorded> {
    auto conn = connection();
    if (!conn) return conn.error();
    pqxx::work txn((*conn)->connection);
    const std::string recipients = jsonList(pointer.recipients);
    const auto inserted = txn.exec_params(
        "INSERT INTO " + table("objects") +
            " (message_id, bucket, object_key, is_inline, size, sha256, content_type, compression, producer,"
            " recipients, created_at, expires_at, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
            " ARRAY(SELECT jsonb_array_elements_text($10::jsonb)), $11::timestamptz, NULLIF($12, '')::timestamptz, $13)"
            " ON CONFLICT (message_id) DO NOTHING RETURNING 1",
        pointer.message_id, pointer.bucket, pointer.key, pointer.is_inline, static_cast<long long>(pointer.size),
        pointer.sha256, pointer.content_type, pointer.compression, pointer.producer, recipients,
        formatTime(pointer.created_at), pointer.expires_at ? formatTime(*pointer.expires_at) : std::string(), actor_);
    Recorded outcome = Recorded::kNew;
    if (inserted.empty()) {
      const auto same = txn.exec_params1(
          "SELECT bucket = $2 AND object_key = $3 AND sha256 = $4 AND size = $5 AND"
          " recipients = ARRAY(SELECT jsonb_array_elements_text($6::jsonb)) FROM " + table("objects") +
              " WHERE message_id = $1",
          pointer.message_id, pointer.bucket, pointer.key, pointer.sha256, static_cast<long long>(pointer.size),
          recipients);
      if (same[0].as<bool>()) {
        outcome = Recorded::kDuplicate;
      } else {
        outcome = Recorded::kConflict;
        txn.exec_params("INSERT INTO " + table("audit") +
                            " (message_id, event, actor, detail) VALUES ($1, 'pointer_conflict', $2, $3)",
                        pointer.message_id, actor_,
                        "a second pointer with this id names different content; the first is kept (producer " +
                            pointer.producer + ")");
      }
    } else {
      // ACKs that came before the pointer from outside its recipient set.
      txn.exec_params("INSERT INTO " + table("audit") +
                          " (message_id, event, actor, detail) SELECT message_id, 'unknown_recipient', $2,"
                          " 'ACK from ' || recipient || ', who is not a recipient' FROM " + table("acks") +
                          " WHERE message_id = $1 AND NOT (recipient = ANY(ARRAY(SELECT jsonb_array_elements_text($3::jsonb))))",
                      pointer.message_id, actor_, recipients);
    }
    txn.commit();
    return outcome;
  });
}

Result<Recorded> Ledger::recordAck(const Ack& ack) {
  return guarded("record ack", [&]() -> Result<Recorded> {
    auto conn = connection();
    if (!conn) return conn.error();
    pqxx::work txn((*conn)->connection);
    const auto row = txn.exec_params1(
        "INSERT INTO " + table("acks") +
            " AS a (message_id, recipient, ok, sha256_verified, detail, acked_at, recorded_by)"
            " VALUES ($1, $2, $3, $4, $5, $6::timestamptz, $7) ON CONFLICT (message_id, recipient) DO UPDATE SET"
            " duplicates = a.duplicates + 1,"
            " ok = a.ok OR EXCLUDED.ok,"
            " sha256_verified = a.sha256_verified OR EXCLUDED.sha256_verified,"
            " detail = CASE WHEN EXCLUDED.ok AND NOT a.ok THEN EXCLUDED.detail ELSE a.detail END,"
            " acked_at = CASE WHEN EXCLUDED.ok AND NOT a.ok THEN EXCLUDED.acked_at ELSE a.acked_at END"
            " RETURNING (xmax = 0), (SELECT $2 = ANY(o.recipients) FROM " + table("objects") +
            " o WHERE o.message_id = $1)",
        ack.message_id, ack.recipient, ack.ok, ack.sha256_verified, ack.detail, formatTime(ack.acked_at), actor_);
    const bool inserted = row[0].as<bool>();
    const bool pointer_known = !row[1].is_null();
    Recorded outcome = inserted ? Recorded::kNew : Recorded::kDuplicate;
    if (pointer_known && !row[1].as<bool>()) {
      outcome = Recorded::kUnknownRecipient;
      if (inserted) {
        txn.exec_params("INSERT INTO " + table("audit") +
                            " (message_id, event, actor, detail) VALUES ($1, 'unknown_recipient', $2, $3)",
                        ack.message_id, actor_, "ACK from " + ack.recipient + ", who is not a recipient");
      }
    }
    if (!ack.ok && inserted) {
      txn.exec_params("INSERT INTO " + table("audit") + " (message_id, event, actor, detail) VALUES ($1, 'refused', $2, $3)",
                      ack.message_id, actor_, ack.recipient + ": " + ack.detail);
    }
    txn.commit();
    return outcome;
  });
}

Result<std::optional<Deletion>> Ledger::deleteIfComplete(const std::string& message_id, const Remover& remove,
                                                        bool even_incomplete, const std::string& reason) {
  return guarded("delete", [&]() -> Result<std::optional<Deletion>> {
    auto conn = connection();
    if (!conn) return conn.error();
    pqxx::work txn((*conn)->connection);
    const auto claimed = txn.exec_params(
        "SELECT o.bucket, o.object_key, o.is_inline, o.size FROM " + table("objects") +
            " o WHERE o.message_id = $1 AND o.deleted_at IS NULL AND ($2 OR NOT EXISTS (" +
            missingRecipients(table("acks")) + ")) FOR UPDATE OF o SKIP LOCKED",
        message_id, even_incomplete);
    if (claimed.empty()) return std::optional<Deletion>();
    Deletion deletion;
    deletion.message_id = message_id;
    deletion.bucket = claimed[0][0].as<std::string>();
    deletion.key = claimed[0][1].as<std::string>();
    deletion.is_inline = claimed[0][2].as<bool>();
    deletion.size = claimed[0][3].as<long long>();
    if (!deletion.is_inline) {
      // Under the row lock: no other coordinator can claim this object now.
      if (auto removed = remove(deletion.bucket, deletion.key); !removed) return removed.error();
    }
    const std::string why = reason.empty() ? "every recipient confirmed" : reason;
    const auto timing = txn.exec_params1(
        "UPDATE " + table("objects") +
            " o SET deleted_at = now(), deleted_by = $2, delete_reason = $3 WHERE o.message_id = $1"
            " RETURNING coalesce(extract(epoch FROM now() - (SELECT max(a.recorded_at) FROM " + table("acks") +
            " a WHERE a.message_id = o.message_id AND a.ok)), 0),"
            " coalesce(extract(epoch FROM (SELECT max(a.acked_at) FROM " + table("acks") +
            " a WHERE a.message_id = o.message_id AND a.ok) - o.created_at), 0)",
        message_id, actor_, why);
    deletion.lag_seconds = timing[0].as<double>();
    deletion.ack_latency_seconds = timing[1].as<double>();
    txn.exec_params("INSERT INTO " + table("audit") + " (message_id, event, actor, detail) VALUES ($1, 'deleted', $2, $3)",
                    message_id, actor_, why);
    txn.commit();
    return std::optional<Deletion>(deletion);
  });
}

Result<std::vector<std::string>> Ledger::completeButNotDeleted(int limit) {
  return guarded("rescan", [&]() -> Result<std::vector<std::string>> {
    auto conn = connection();
    if (!conn) return conn.error();
    pqxx::nontransaction txn((*conn)->connection);
    const auto rows = txn.exec_params("SELECT o.message_id FROM " + table("objects") +
                                          " o WHERE o.deleted_at IS NULL AND NOT EXISTS (" +
                                          missingRecipients(table("acks")) + ") ORDER BY o.created_at LIMIT $1",
                                      limit);
    std::vector<std::string> ids;
    for (const auto& row : rows) ids.push_back(row[0].as<std::string>());
    return ids;
  });
}

Result<std::vector<ExpiredObject>> Ledger::takeNewlyExpired(int limit) {
  return guarded("expiry", [&]() -> Result<std::vector<ExpiredObject>> {
    auto conn = connection();
    if (!conn) return conn.error();
    pqxx::work txn((*conn)->connection);
    const std::string missing = "ARRAY(" + missingRecipients(table("acks")) + ")";
    const auto rows = txn.exec_params(
        "UPDATE " + table("objects") + " o SET expired_reported_at = now() WHERE o.message_id IN (SELECT o.message_id FROM " +
            table("objects") + " o WHERE o.deleted_at IS NULL AND o.expired_reported_at IS NULL AND o.expires_at < now()"
            " AND EXISTS (" + missingRecipients(table("acks")) + ") ORDER BY o.expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
            " RETURNING o.message_id, array_to_json(" + missing + ")::text",
        limit);
    std::vector<ExpiredObject> expired;
    for (const auto& row : rows) {
      ExpiredObject object;
      object.message_id = row[0].as<std::string>();
      const auto names = nlohmann::json::parse(row[1].as<std::string>(), nullptr, false);
      if (names.is_array()) {
        for (const auto& name : names) {
          if (name.is_string()) object.missing_recipients.push_back(name.get<std::string>());
        }
      }
      std::string detail = "expired with no ACK from:";
      for (const auto& name : object.missing_recipients) detail += " " + name;
      txn.exec_params("INSERT INTO " + table("audit") + " (message_id, event, actor, detail) VALUES ($1, 'expired', $2, $3)",
                      object.message_id, actor_, detail);
      expired.push_back(std::move(object));
    }
    txn.commit();
    return expired;
  });
}

Result<std::set<std::string>> Ledger::knownKeys(const std::string& bucket, const std::vector<std::string>& keys) {
  return guarded("known keys", [&]() -> Result<std::set<std::string>> {
    auto conn = connection();
    if (!conn) return conn.error();
    pqxx::nontransaction txn((*conn)->connection);
    const auto rows = txn.exec_params("SELECT object_key FROM " + table("objects") +
                                          " WHERE bucket = $1 AND object_key = ANY(ARRAY(SELECT jsonb_array_elements_text($2::jsonb)))",
                                      bucket, jsonList(keys));
    std::set<std::string> known;
    for (const auto& row : rows) known.insert(row[0].as<std::string>());
    return known;
  });
}

Result<bool> Ledger::recordOrphan(const std::string& bucket, const std::string& key, uint64_t size, bool deleted) {
  return guarded("record orphan", [&]() -> Result<bool> {
    auto conn = connection();
    if (!conn) return conn.error();
    pqxx::work txn((*conn)->connection);
    const auto row = txn.exec_params1(
        "INSERT INTO " + table("orphans") + " AS x (bucket, object_key, size, found_by, deleted) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (bucket, object_key) DO UPDATE SET deleted = x.deleted OR EXCLUDED.deleted RETURNING (xmax = 0)",
        bucket, key, static_cast<long long>(size), actor_, deleted);
    const bool fresh = row[0].as<bool>();
    if (fresh || deleted) txn.exec_params("INSERT INTO " + table("audit") + " (message_id, event, actor, detail) VALUES ($1, $2, $3, $4)",
                    "", deleted ? "orphan_deleted" : "orphan_found", actor_, bucket + "/" + key);
    txn.commit();
    return fresh;
  });
}

Status Ledger::dropSchema() {
  return guarded("drop schema", [&]() -> Status {
    auto conn = connection();
    if (!conn) return conn.error();
    pqxx::work txn((*conn)->connection);
    txn.exec("DROP SCHEMA IF EXISTS \"" + schema_ + "\" CASCADE");
    txn.commit();
    return okStatus();
  });
}

Result<LedgerStats> Ledger::stats() {
  return guarded("stats", [&]() -> Result<LedgerStats> {
    auto conn = connection();
    if (!conn) return conn.error();
    pqxx::nontransaction txn((*conn)->connection);
    LedgerStats stats;
    const auto objects = txn.exec1(
        "SELECT count(*) FILTER (WHERE deleted_at IS NULL), count(*) FILTER (WHERE deleted_at IS NOT NULL),"
        " count(*) FILTER (WHERE deleted_at IS NULL AND expired_reported_at IS NOT NULL),"
        " coalesce(sum(size) FILTER (WHERE deleted_at IS NULL), 0) FROM " + table("objects"));
    stats.outstanding = objects[0].as<long long>();
    stats.deleted = objects[1].as<long long>();
    stats.expired_reported = objects[2].as<long long>();
    stats.outstanding_bytes = objects[3].as<long long>();
    stats.refused = txn.exec1("SELECT count(DISTINCT message_id) FROM " + table("acks") + " WHERE NOT ok")[0].as<long long>();
    const auto orphans = txn.exec1("SELECT count(*), count(*) FILTER (WHERE deleted) FROM " + table("orphans"));
    stats.orphans_found = orphans[0].as<long long>();
    stats.orphans_deleted = orphans[1].as<long long>();
    return stats;
  });
}

Result<std::vector<std::string>> Ledger::auditOf(const std::string& message_id) {
  return guarded("audit", [&]() -> Result<std::vector<std::string>> {
    auto conn = connection();
    if (!conn) return conn.error();
    pqxx::nontransaction txn((*conn)->connection);
    const auto rows = txn.exec_params("SELECT event, actor, detail FROM " + table("audit") + " WHERE message_id = $1 ORDER BY id",
                                      message_id);
    std::vector<std::string> lines;
    for (const auto& row : rows) {
      lines.push_back(row[0].as<std::string>() + " " + row[1].as<std::string>() + " " + row[2].as<std::string>());
    }
    return lines;
  });
}

}  // namespace warren::offload
