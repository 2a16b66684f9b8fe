// warren-offload-coordinator: learns every pointer from its ledger queue and
// every ACK from the ACK queue, keeps the ledger, and deletes each object
// once all of its recipients have confirmed. Several replicas may run at
// once: they share the queues as competing consumers and the ledger decides
// every deletion. Serves /metrics and /healthz (broker, S3, database).
#include <unistd.h>

#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/shutdown.h"
#include "common/backoff.h"
#include "common/log.h"
#include "offload/coordinator.h"
#include "offload/options.h"
#include "offload/topology.h"
#include "runtime/http_server.h"
#include "runtime/metrics.h"

namespace {

using namespace warren;
using namespace warren::offload;
using namespace std::chrono_literals;

// Up, down or not yet known, per dependency, for /healthz.
struct Health {
  std::atomic<int> broker{0}, s3{0}, database{0};
  static const char* name(int state) { return state == 1 ? "up" : state == 2 ? "down" : "unknown"; }
  // Marks the dependency an error came from.
  void failed(const Error& error) {
    if (error.reason.rfind("Database", 0) == 0) {
      database = 2;
    } else if (error.reason.rfind("S3", 0) == 0 || error.reason == "NotFound" || error.reason == "AccessDenied") {
      s3 = 2;
    } else {
      broker = 2;
    }
  }
};

Result<ExpiryPolicy> policy(const Flags& flags, const std::string& name) {
  const std::string value = flags.getOr(name, "Report");
  if (value == "Report") return ExpiryPolicy::kReport;
  if (value == "Delete") return ExpiryPolicy::kDelete;
  return Error::local("InvalidConfig", "--" + name + ": must be Report or Delete, got '" + value + "'");
}

int fail(const Error& error) {
  log::error("cannot start", {log::Field("error", error.message)});
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  app::ShutdownSignal::instance().install();
  auto& shutdown = app::ShutdownSignal::instance();
  auto setup = setUpProgram(argc, argv, {"database-uri", "database-schema", "id", "metrics-address", "sweep-interval", "rescan-interval",
                             "expiry-policy", "orphan-policy", "orphan-age", "key-prefix", "prefetch"},
                            {});
  if (!setup) return fail(setup.error());
  const Flags* flags = &setup->flags;
  const Connections* connections = &setup->connections;
  auto database_uri = flags->require("database-uri", {"WARREN_OFFLOAD_DATABASE_URI"});
  if (!database_uri) return fail(database_uri.error());
  const std::string schema = flags->getOr("database-schema", "warren_offload");
  char host[256] = "coordinator";
  gethostname(host, sizeof(host) - 1);
  const std::string id = flags->getOr("id", std::string(host) + "-" + std::to_string(getpid()), {"WARREN_OFFLOAD_ID"});
  auto sweep_interval = flags->duration("sweep-interval", 60s);
  auto rescan_interval = flags->duration("rescan-interval", 10s);
  auto orphan_age = flags->duration("orphan-age", 1h);
  auto prefetch = flags->integer("prefetch", 50);
  auto expiry = policy(*flags, "expiry-policy");
  auto orphans = policy(*flags, "orphan-policy");
  for (const Error* error : {sweep_interval ? nullptr : &sweep_interval.error(),
                             rescan_interval ? nullptr : &rescan_interval.error(),
                             orphan_age ? nullptr : &orphan_age.error(), prefetch ? nullptr : &prefetch.error(),
                             expiry ? nullptr : &expiry.error(), orphans ? nullptr : &orphans.error()}) {
    if (error != nullptr) return fail(*error);
  }
  CoordinatorSettings settings;
  settings.bucket = connections->bucket;
  settings.key_prefix = flags->getOr("key-prefix", connections->pipeline + "/");
  settings.expiry_policy = *expiry;
  settings.orphan_policy = *orphans;
  settings.orphan_age = std::chrono::duration_cast<std::chrono::seconds>(*orphan_age);
  const Topology topology(connections->pipeline);

  metrics::Registry registry;
  CoordinatorMetrics coordinator_metrics(registry);
  Health health;
  registry.addScrapeHook([&] {
    coordinator_metrics.dependency_up.with({"rabbitmq"}).set(health.broker == 1 ? 1 : 0);
    coordinator_metrics.dependency_up.with({"s3"}).set(health.s3 == 1 ? 1 : 0);
    coordinator_metrics.dependency_up.with({"database"}).set(health.database == 1 ? 1 : 0);
  });
  runtime::HttpServer server;
  server.handle("/metrics", [&registry] { return runtime::HttpReply{200, "text/plain; version=0.0.4", registry.render()}; });
  server.handle("/healthz", [&health] {
    const bool up = health.broker == 1 && health.s3 == 1 && health.database == 1;
    const nlohmann::json body = {{"status", up ? "healthy" : "degraded"},
                                 {"dependencies",
                                  {{"rabbitmq", Health::name(health.broker)},
                                   {"s3", Health::name(health.s3)},
                                   {"database", Health::name(health.database)}}}};
    return runtime::HttpReply{up ? 200 : 503, "application/json", body.dump() + "\n"};
  });
  if (const std::string address = flags->getOr("metrics-address", ":9464"); !address.empty()) {
    if (auto started = server.start(address); !started) return fail(started.error());
  }
  log::info("started", {log::Field("id", id), log::Field("pipeline", connections->pipeline),
                        log::Field("bucket", connections->bucket), log::Field("s3", connections->s3.endpoint)});

  // The sweeper: its own database connection and S3 client.
  std::thread sweeper([&] {
    std::unique_ptr<Ledger> ledger;
    std::unique_ptr<S3Client> s3;
    auto last_sweep = std::chrono::steady_clock::now() - *sweep_interval;
    while (!shutdown.waitFor(*rescan_interval)) {
      if (!ledger) {
        auto opened = Ledger::open(*database_uri, schema, id);
        if (!opened) continue;
        ledger = std::move(*opened);
      }
      if (!s3) {
        auto created = S3Client::create(connections->s3);
        if (!created) continue;
        s3 = std::move(*created);
      }
      // The main loop creates the tables; until then there is nothing to sweep.
      if (auto version = ledger->schemaVersion(); !version || *version < kLedgerSchemaVersion) continue;
      Coordinator coordinator(*ledger, *s3, coordinator_metrics, settings);
      if (auto rescanned = coordinator.rescan(); !rescanned) {
        health.failed(rescanned.error());
        log::warn("rescan failed", {log::Field("error", rescanned.error().message)});
        continue;
      }
      if (std::chrono::steady_clock::now() - last_sweep >= *sweep_interval) {
        last_sweep = std::chrono::steady_clock::now();
        if (auto swept = coordinator.sweep(); !swept) {
          health.failed(swept.error());
          log::warn("sweep failed", {log::Field("error", swept.error().message)});
        }
      }
    }
  });

  Backoff backoff({500ms, 10s, 2.0, 0.5, 60s});
  size_t next_endpoint = 0;
  std::unique_ptr<Ledger> ledger;
  std::unique_ptr<S3Client> s3;
  while (!shutdown.requested()) {
    auto retry = [&](const Error& error, const char* what) {
      health.failed(error);
      const auto delay = backoff.next();
      log::warn(what, {log::Field("error", error.message), log::Field("retry_in_ms", static_cast<long long>(delay.count()))});
      shutdown.waitFor(delay);
    };
    if (!ledger) {
      auto opened = Ledger::open(*database_uri, schema, id);
      if (!opened) { retry(opened.error(), "database unreachable"); continue; }
      ledger = std::move(*opened);
    }
    if (auto migrated = ledger->migrate(); !migrated) {
      if (migrated.error().terminal) return fail(migrated.error());
      retry(migrated.error(), "cannot prepare the ledger");
      continue;
    }
    health.database = 1;
    if (!s3) {
      auto created = S3Client::create(connections->s3);
      if (!created) return fail(created.error());
      s3 = std::move(*created);
    }
    if (auto reachable = s3->headBucket(connections->bucket); !reachable) {
      retry(reachable.error(), "S3 bucket unreachable");
      continue;
    }
    health.s3 = 1;
    auto connection = amqp::Connection::openAny(connections->amqp, &next_endpoint, 5s);
    if (!connection) { retry(connection.error(), "broker unreachable"); continue; }
    amqp::Connection& conn = **connection;
    Status ready = flags->isSet("no-declare") ? okStatus() : topology.declareForCoordinator(conn);
    if (ready) ready = conn.setPrefetch(static_cast<uint16_t>(*prefetch));
    if (ready) ready = conn.consume(topology.ledgerQueue());
    if (ready) ready = conn.consume(topology.ackQueue());
    if (!ready) { retry(ready.error(), "cannot consume"); continue; }
    health.broker = 1;
    backoff.reset();
    log::info("consuming", {log::Field("broker", conn.endpoint().address()), log::Field("ledger_queue", topology.ledgerQueue()),
                            log::Field("ack_queue", topology.ackQueue())});
    Coordinator coordinator(*ledger, *s3, coordinator_metrics, settings);
    while (!shutdown.requested()) {
      auto delivery = conn.next(500ms);
      if (!delivery) { retry(delivery.error(), "broker connection lost"); break; }
      if (!*delivery) continue;
      const amqp::Delivery& message = **delivery;
      const Status handled = coordinator.onMessage(message.queue == topology.ledgerQueue()
                                                       ? Coordinator::MessageKind::kPointer
                                                       : Coordinator::MessageKind::kAck,
                                                   message.body);
      if (!handled && handled.error().reason == "InvalidMessage") {
        log::warn("not a valid message (dead-lettered)",
                  {log::Field("queue", message.queue), log::Field("error", handled.error().message)});
        if (auto rejected = conn.reject(message.tag, false); !rejected) { retry(rejected.error(), "broker connection lost"); break; }
        continue;
      }
      // Unacknowledged, the message comes back when this connection closes.
      if (!handled) { retry(handled.error(), "cannot record a message"); break; }
      if (auto acked = conn.ack(message.tag); !acked) { retry(acked.error(), "broker connection lost"); break; }
      health.database = 1;
      health.s3 = 1;
    }
  }
  sweeper.join();
  server.stop();
  log::info("stopped", {log::Field("id", id)});
  return 0;
}
