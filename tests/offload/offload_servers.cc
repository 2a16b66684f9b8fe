#include "offload_servers.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "process.h"
#include "rabbitmq_rootfs.h"

namespace warren::offload::testing {
namespace {

namespace fs = std::filesystem;
using warren::testing::freePort;
using warren::testing::spawnProcess;
using warren::testing::stopProcess;
using warren::testing::waitForPort;

constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin";

std::string versitygwBinary() {
  if (const char* bin = std::getenv("WARREN_BIN"); bin != nullptr) return std::string(bin) + "/versitygw";
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : "/root") + "/.cache/warren/bin/versitygw";
}

// Runs a command as the postgres user (initdb refuses root), quietly; true on exit 0.
bool asPostgres(const std::string& command, const fs::path& log) {
  const std::string prefix = geteuid() == 0 ? "runuser -u postgres -- " : "";
  return std::system((prefix + command + " >>" + log.string() + " 2>&1").c_str()) == 0;
}

// Every process a fixture starts is listed in <root>/pids, so that a test
// process that died without its destructor (a crash, SIGKILL) leaves nothing
// running: the next fixture kills what a dead owner left and removes its files.
void remember(const fs::path& root, pid_t pid) {
  if (pid > 0) std::ofstream(root / "pids", std::ios::app) << pid << "\n";
}

void sweepLeftovers() {
  std::error_code ignored;
  for (const auto& entry : fs::directory_iterator(fs::temp_directory_path(), ignored)) {
    const std::string name = entry.path().filename();
    const std::string prefix = "warren-offload-";
    if (name.rfind(prefix, 0) != 0 || name.find_first_not_of("0123456789", prefix.size()) != std::string::npos) continue;
    const pid_t owner = static_cast<pid_t>(std::stol(name.substr(prefix.size())));
    if (::kill(owner, 0) == 0 || errno != ESRCH) continue;  // its test is still running
    std::ifstream pids(entry.path() / "pids");
    for (pid_t pid; pids >> pid;) ::kill(-pid, SIGKILL), ::kill(pid, SIGKILL);
    if (fs::exists(entry.path() / "pg" / "data" / "postmaster.pid")) {
      asPostgres(std::string(kPgBin) + "/pg_ctl -D " + (entry.path() / "pg" / "data").string() + " -m immediate stop",
                 "/dev/null");
    }
    fs::remove_all(entry.path(), ignored);
  }
}

std::string tail(const fs::path& file) { return warren::testing::fileTail(file, 2000); }

}  // namespace

Status OffloadServers::prepare() {
  if (!root_.empty()) return okStatus();
  sweepLeftovers();
  root_ = fs::temp_directory_path() / ("warren-offload-" + std::to_string(getpid()));
  fs::remove_all(root_);
  fs::create_directories(root_);
  fs::permissions(root_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
  s3_port_ = freePort();
  pg_port_ = freePort();
  amqp_port_ = freePort();
  dist_port_ = freePort();
  epmd_port_ = freePort();
  return okStatus();
}

Status OffloadServers::startAll(bool with_broker) {
  if (auto s3 = startS3(); !s3) return s3;
  if (auto database = startDatabase(); !database) return database;
  if (with_broker) return startBroker();
  return okStatus();
}

void OffloadServers::stopAll() {
  stopBroker();
  stopDatabase();
  stopS3();
  if (!root_.empty() && std::getenv("WARREN_KEEP_TEST_FILES") == nullptr) {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }
}

Status OffloadServers::startS3() {
  if (auto prepared = prepare(); !prepared) return prepared;
  const std::string binary = versitygwBinary();
  if (!fs::exists(binary)) return Error::local("Missing", binary + " is not built (hack/build-tools.sh builds it)");
  fs::create_directories(root_ / "s3");
  if (s3_fixed_port_ != 0) s3_port_ = s3_fixed_port_;
  s3_pid_ = spawnProcess({binary, "--port", s3_address_ + ":" + std::to_string(s3_port_), "--quiet", "--access-log",
                          (root_ / "s3-access.log").string(), "posix", (root_ / "s3").string()},
                         {root_ / "s3.log",
                          {std::string("ROOT_ACCESS_KEY=") + kAccessKey, std::string("ROOT_SECRET_KEY=") + kSecretKey}});
  remember(root_, s3_pid_);
  if (s3_pid_ < 0 || !waitForPort(s3_port_, std::chrono::seconds(30), s3_address_)) {
    return Error::local("S3", "versitygw did not start: " + tail(root_ / "s3.log"));
  }
  return okStatus();
}

void OffloadServers::stopS3() {
  stopProcess(s3_pid_, std::chrono::seconds(5));
  s3_pid_ = -1;
}

S3Config OffloadServers::s3Config() const {
  S3Config config;
  config.endpoint = s3Endpoint();
  config.access_key = kAccessKey;
  config.secret_key = kSecretKey;
  config.max_attempts = 3;
  config.first_retry_delay = std::chrono::milliseconds(50);
  config.connect_timeout = std::chrono::milliseconds(2000);
  return config;
}

Status OffloadServers::startDatabase() {
  if (auto prepared = prepare(); !prepared) return prepared;
  const fs::path dir = root_ / "pg";
  const fs::path log = root_ / "pg-setup.log";
  if (!fs::exists(dir / "data")) {
    fs::create_directories(dir);
    if (geteuid() == 0 && std::system(("chown postgres:postgres " + dir.string()).c_str()) != 0) {
      return Error::local("Database", "cannot hand " + dir.string() + " to the postgres user");
    }
    if (!asPostgres(std::string(kPgBin) + "/initdb -D " + (dir / "data").string() +
                        " -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync",
                    log)) {
      return Error::local("Database", "initdb failed: " + tail(log));
    }
  }
  if (!asPostgres(std::string(kPgBin) + "/pg_ctl -D " + (dir / "data").string() + " -l " + (dir / "pg.log").string() +
                      " -w -t 60 -o \"-c listen_addresses=127.0.0.1 -p " + std::to_string(pg_port_) + " -k " +
                      dir.string() + " -c fsync=off -c synchronous_commit=off -c full_page_writes=off\" start",
                  log)) {
    return Error::local("Database", "PostgreSQL did not start: " + tail(log) + tail(dir / "pg.log"));
  }
  database_running_ = true;
  return okStatus();
}

void OffloadServers::stopDatabase() {
  if (!database_running_) return;
  asPostgres(std::string(kPgBin) + "/pg_ctl -D " + (root_ / "pg" / "data").string() + " -m fast -w stop",
             root_ / "pg-setup.log");
  database_running_ = false;
}

std::string OffloadServers::databaseUri() const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(pg_port_) + "/postgres?connect_timeout=5";
}

Status OffloadServers::startBroker() {
  if (auto prepared = prepare(); !prepared) return prepared;
  if (broker_.amqp_port != 0) amqp_port_ = broker_.amqp_port;
  const fs::path rootfs = warren::testing::rabbitmqRootfs();
  if (!warren::testing::rabbitmqRootfsReady(rootfs)) {
    return Error::local("Broker", "no RabbitMQ 4 root filesystem at " + rootfs.string() +
                                      " (hack/build-rabbitmq-rootfs.sh builds it)");
  }
  const fs::path dir = root_ / "rabbit";
  for (const char* sub : {"home", "mnesia", "log"}) fs::create_directories(dir / sub);
  {
    std::ofstream conf(dir / "rabbitmq.conf");
    conf << "listeners.tcp.default = " << broker_.address << ":" << amqp_port_ << "\n";
    if (broker_.username != "guest") {
      conf << "default_user = " << broker_.username << "\ndefault_pass = " << broker_.password << "\n";
    }
    if (broker_.management_port != 0) {
      conf << "management.tcp.ip = " << broker_.address << "\nmanagement.tcp.port = " << broker_.management_port << "\n";
    }
    std::ofstream(dir / "enabled_plugins") << (broker_.management_port != 0 ? "[rabbitmq_management].\n" : "[].\n");
  }
  // An epmd of its own, so nothing outlives the test.
  epmd_pid_ = spawnProcess({"/usr/bin/epmd", "-port", std::to_string(epmd_port_), "-address", "127.0.0.1"},
                           {dir / "epmd.log", {}});
  remember(root_, epmd_pid_);
  if (epmd_pid_ < 0 || !waitForPort(epmd_port_, std::chrono::seconds(10))) {
    return Error::local("Broker", "epmd did not start: " + tail(dir / "epmd.log"));
  }
  // RabbitMQ 4.0.5, chrooted into its root filesystem, on loopback.
  const std::string mount = warren::testing::kRabbitmqNodeMount;
  broker_pid_ = spawnProcess(
      warren::testing::chrootedCommand(
          rootfs, dir,
          {"HOME=" + mount + "/home", "RABBITMQ_NODENAME=warren-offload-" + std::to_string(getpid()) + "@localhost",
           "RABBITMQ_CONFIG_FILE=" + mount + "/rabbitmq", "RABBITMQ_CONF_ENV_FILE=/dev/null",
           "RABBITMQ_ENABLED_PLUGINS_FILE=" + mount + "/enabled_plugins", "RABBITMQ_MNESIA_BASE=" + mount + "/mnesia",
           "RABBITMQ_LOG_BASE=" + mount + "/log", "RABBITMQ_DIST_PORT=" + std::to_string(dist_port_),
           "ERL_EPMD_PORT=" + std::to_string(epmd_port_), "ERL_EPMD_ADDRESS=127.0.0.1"},
          {warren::testing::kRabbitmqServer}),
      {dir / "out.log", {}});
  remember(root_, broker_pid_);
  if (broker_pid_ < 0 || !waitForPort(amqp_port_, std::chrono::seconds(120), broker_.address) ||
      (broker_.management_port != 0 && !waitForPort(broker_.management_port, std::chrono::seconds(60), broker_.address))) {
    return Error::local("Broker", "rabbitmq-server did not start: " + tail(dir / "out.log"));
  }
  return okStatus();
}

void OffloadServers::setBrokerListener(BrokerListener listener) {
  broker_ = std::move(listener);
  // A new default user is only created on a node's first boot: start from an empty node.
  if (!root_.empty()) {
    std::error_code ignored;
    fs::remove_all(root_ / "rabbit" / "mnesia", ignored);
  }
}

void OffloadServers::stopBroker() {
  stopProcess(broker_pid_, std::chrono::seconds(30));
  broker_pid_ = -1;
  stopProcess(epmd_pid_, std::chrono::seconds(2));
  epmd_pid_ = -1;
}

std::vector<std::string> OffloadServers::programEnv(const std::string& pipeline, const std::string& bucket) const {
  return {"WARREN_AMQP_URI=" + amqpUri(),
          "WARREN_S3_ENDPOINT=" + s3Endpoint(),
          "WARREN_S3_BUCKET=" + bucket,
          "WARREN_OFFLOAD_PIPELINE=" + pipeline,
          "WARREN_OFFLOAD_DATABASE_URI=" + databaseUri(),
          std::string("AWS_ACCESS_KEY_ID=") + kAccessKey,
          std::string("AWS_SECRET_ACCESS_KEY=") + kSecretKey};
}

void OffloadServers::track(pid_t pid) const {
  if (!root_.empty()) remember(root_, pid);
}

int OffloadServers::s3Deletes(const std::string& bucket, const std::string& key) const {
  // versitygw's access log: "... s3_DeleteObject <key> /<bucket>/<key> <status> ...".
  std::ifstream log(root_ / "s3-access.log");
  int deletes = 0;
  const std::string operation = " s3_DeleteObject ";
  for (std::string line; std::getline(log, line);) {
    const auto at = line.find(operation);
    if (at == std::string::npos || line.find(" /" + bucket + "/") == std::string::npos) continue;
    std::istringstream rest(line.substr(at + operation.size()));
    std::string logged_key;
    rest >> logged_key;
    const bool prefix = !key.empty() && key.back() == '/';
    if (prefix ? logged_key.rfind(key, 0) == 0 : logged_key == key) ++deletes;
  }
  return deletes;
}

}  // namespace warren::offload::testing
