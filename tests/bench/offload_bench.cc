// The offload pipeline's figures on this machine (reported, never asserted),
// against servers it starts on loopback (versitygw, PostgreSQL, RabbitMQ):
//   - the physical limits in the same run: versitygw's raw PUT and GET MiB/s
//     with curl, PostgreSQL's commits/s with pgbench;
//   - end to end (producer -> recipient -> ACK -> coordinator -> deletion)
//     per payload size, inline and offloaded: messages/s and MiB/s;
//   - producer and consumer peak RSS for a 1 GiB payload;
//   - the coordinator's ACKs/s with 3 recipients (ledger and deletion claims).
#include <sys/resource.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "offload/coordinator.h"
#include "offload/ledger.h"
#include "offload/s3_client.h"
#include "offload_servers.h"
#include "process.h"

namespace {

using namespace warren;
using namespace warren::offload;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Runs argv to its end; its peak RSS in MiB (0 when it failed).
double runMeasured(const std::vector<std::string>& argv, const std::vector<std::string>& env, const fs::path& log) {
  const pid_t pid = warren::testing::spawnProcess(argv, {log, env});
  int status = 0;
  rusage usage{};
  if (pid < 0 || wait4(pid, &status, 0, &usage) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "failed: %s (see %s)\n", argv[0].c_str(), log.c_str());
    return 0;
  }
  return usage.ru_maxrss / 1024.0;
}

bool waitForDeleted(Ledger& ledger, long long deleted, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (auto stats = ledger.stats(); stats && stats->deleted >= deleted) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

double shellSeconds(const std::string& command) {
  const auto start = Clock::now();
  if (std::system(command.c_str()) != 0) return -1;
  return seconds(Clock::now() - start);
}

}  // namespace

int main() {
  offload::testing::OffloadServers servers;
  if (auto started = servers.startAll(true); !started) {
    std::fprintf(stderr, "cannot start the servers: %s\n", started.error().message.c_str());
    return 1;
  }
  auto s3 = S3Client::create(servers.s3Config());
  if (!s3 || !(*s3)->createBucket("bench")) return 1;
  const fs::path dir = servers.root() / "bench";
  fs::create_directories(dir);

  // Physical limits: raw S3 with curl (64 MiB, unsigned payload), PostgreSQL commits/s.
  const fs::path blob = dir / "blob";
  std::system(("head -c 67108864 /dev/urandom > " + blob.string()).c_str());
  const std::string curl = std::string("curl -sf -o /dev/null --aws-sigv4 aws:amz:us-east-1:s3 -u ") +
                           offload::testing::OffloadServers::kAccessKey + ":" + offload::testing::OffloadServers::kSecretKey +
                           " -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' ";
  double put = 0, get = 0;
  for (int i = 0; i < 3; ++i) {
    put += shellSeconds(curl + "-T " + blob.string() + " " + servers.s3Endpoint() + "/bench/raw-" + std::to_string(i));
    get += shellSeconds(curl + servers.s3Endpoint() + "/bench/raw-" + std::to_string(i));
  }
  std::printf("raw versitygw (curl, 3 x 64 MiB): PUT %.0f MiB/s, GET %.0f MiB/s\n", 192 / put, 192 / get);
  const std::string pgbench = "/usr/lib/postgresql/15/bin/pgbench";
  const std::string uri = servers.databaseUri();
  std::ofstream(dir / "commit.sql") << "INSERT INTO bench_commits VALUES (1);\n";
  std::system(("psql -q '" + uri + "' -c 'CREATE TABLE bench_commits (v int)' >/dev/null 2>&1").c_str());
  std::system((pgbench + " -n -c 1 -T 5 -f " + (dir / "commit.sql").string() + " '" + uri + "' > " +
               (dir / "pgbench.out").string() + " 2>&1").c_str());
  std::ifstream pg(dir / "pgbench.out");
  for (std::string line; std::getline(pg, line);) {
    if (line.rfind("tps", 0) == 0) std::printf("raw PostgreSQL (pgbench, 1 client, one INSERT per commit, fsync off): %s\n", line.c_str());
  }

  // End to end, one recipient: producer start to the last deletion.
  struct Case {
    const char* size;
    double mib;
    int count;
    const char* threshold;
  };
  const std::vector<Case> cases = {
      {"4KiB", 4.0 / 1024, 400, "65536"},   {"4KiB", 4.0 / 1024, 400, "0"},   {"16KiB", 16.0 / 1024, 400, "65536"},
      {"16KiB", 16.0 / 1024, 400, "0"},     {"64KiB", 64.0 / 1024, 200, "65536"},
      {"64KiB", 64.0 / 1024, 200, "0"},     {"1MiB", 1, 64, "65536"},          {"16MiB", 16, 8, "65536"},
      {"128MiB", 128, 2, "65536"}};
  std::printf("\nend to end, 1 recipient, default 8 MiB parts (producer start -> every object deleted):\n");
  std::printf("%-8s %-9s %6s %10s %10s %14s\n", "size", "mode", "count", "msgs/s", "MiB/s", "producer RSS");
  int run = 0;
  for (const auto& c : cases) {
    const std::string pipeline = "bench" + std::to_string(run);
    const std::string schema = "bench" + std::to_string(run++);
    const auto env = servers.programEnv(pipeline, "bench");
    auto ledger = Ledger::open(uri, schema, "bench");
    if (!ledger || !(*ledger)->migrate()) return 1;
    const pid_t coordinator = warren::testing::spawnProcess(
        {WARREN_OFFLOAD_COORDINATOR, "--database-schema", schema, "--metrics-address", ""}, {dir / (pipeline + "-coordinator.log"), env});
    const pid_t consumer = warren::testing::spawnProcess({WARREN_OFFLOAD_CONSUMER, "--recipient", "alpha", "--prefetch", "16"},
                                                        {dir / (pipeline + "-consumer.log"), env});
    std::this_thread::sleep_for(1s);  // both consuming (their queues are declared by the producer anyway)
    const auto start = Clock::now();
    const double rss = runMeasured({WARREN_OFFLOAD_PRODUCER, "--recipients", "alpha", "--size", c.size, "--count",
                                    std::to_string(c.count), "--inline-threshold", c.threshold},
                                   env, dir / (pipeline + "-producer.log"));
    const bool done = waitForDeleted(**ledger, c.count, 600s);
    const double elapsed = seconds(Clock::now() - start);
    std::printf("%-8s %-9s %6d %10.1f %10.1f %11.1f MiB%s\n", c.size, std::string(c.threshold) == "0" || c.mib > 64.0 / 1024 ? "offloaded" : "inline",
                c.count, c.count / elapsed, c.count * c.mib / elapsed, rss, done ? "" : "  (NOT all deleted)");
    warren::testing::stopProcess(consumer, 5s);
    warren::testing::stopProcess(coordinator, 5s);
  }

  // Memory with a 1 GiB payload: producer and consumer peak RSS.
  {
    const auto env = servers.programEnv("big", "bench");
    const double producer = runMeasured({WARREN_OFFLOAD_PRODUCER, "--recipients", "alpha", "--size", "1GiB"}, env,
                                        dir / "big-producer.log");
    const double consumer = runMeasured({WARREN_OFFLOAD_CONSUMER, "--recipient", "alpha", "--max-messages", "1", "--work-dir",
                                         dir.string()},
                                        env, dir / "big-consumer.log");
    std::printf("\n1 GiB payload: producer peak RSS %.1f MiB, consumer peak RSS %.1f MiB\n", producer, consumer);
  }

  // The coordinator's ledger: 3 recipients, inline pointers (no S3 in the way).
  {
    auto ledger = Ledger::open(uri, "bench_acks", "bench");
    if (!ledger || !(*ledger)->migrate()) return 1;
    metrics::Registry registry;
    CoordinatorMetrics metrics(registry);
    Coordinator coordinator(**ledger, **s3, metrics, CoordinatorSettings{});
    constexpr int kObjects = 1000;
    const auto start = Clock::now();
    for (int i = 0; i < kObjects; ++i) {
      Pointer pointer;
      pointer.message_id = "ack-bench-" + std::to_string(i);
      pointer.producer = "bench";
      pointer.is_inline = true;
      pointer.inline_data = "x";
      pointer.size = 1;
      pointer.sha256 = std::string(64, 'a');
      pointer.recipients = {"alpha", "beta", "gamma"};
      pointer.created_at = std::chrono::system_clock::now();
      if (!coordinator.onPointer(pointer)) return 1;
      for (const char* recipient : {"alpha", "beta", "gamma"}) {
        Ack ack;
        ack.message_id = pointer.message_id;
        ack.recipient = recipient;
        ack.acked_at = std::chrono::system_clock::now();
        if (!coordinator.onAck(ack)) return 1;
      }
    }
    const double elapsed = seconds(Clock::now() - start);
    std::printf("coordinator, 3 recipients: %.0f ACKs/s (%d objects recorded, ACKed 3 times and deleted in %.1f s)\n",
                3 * kObjects / elapsed, kObjects, elapsed);
  }
  return 0;
}
