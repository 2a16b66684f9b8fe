// The real servers the offload tests run against, all on loopback and all
// started and removed by the test: versitygw (S3, posix backend, an access
// log of every request), a throwaway PostgreSQL 15 cluster (initdb as the
// postgres user, fsync off) and, when asked, one RabbitMQ 4.0.5 node (from the
// root filesystem hack/build-rabbitmq-rootfs.sh builds) with its own epmd.
// Each can be stopped and started again for fault tests.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "common/result.h"
#include "offload/s3_client.h"

namespace warren::offload::testing {

// Where and as whom the broker listens. The defaults suit the offload
// tests: 127.0.0.1, free ports, guest, no management plugin. The pipeline
// test gives it the address a Service name resolves to (another loopback
// address, so the real ports 5672 and 15672 are free), the management
// plugin, and the BrokerCluster's default user.
struct BrokerListener {
  std::string address = "127.0.0.1";
  int amqp_port = 0;        // 0: a free port
  int management_port = 0;  // 0: no management plugin
  std::string username = "guest";
  std::string password = "guest";
};

class OffloadServers {
 public:
  OffloadServers() = default;
  ~OffloadServers() { stopAll(); }
  OffloadServers(const OffloadServers&) = delete;
  OffloadServers& operator=(const OffloadServers&) = delete;

  // Starts everything; an Error says which server failed and why.
  Status startAll(bool with_broker);
  void stopAll();

  // versitygw on `address`:`port` instead of 127.0.0.1 and a free port; before startS3().
  void setS3Listener(const std::string& address, int port) { s3_address_ = address; s3_fixed_port_ = port; }
  Status startS3();
  void stopS3();
  Status startDatabase();
  void stopDatabase();
  // Takes effect at the next startBroker(), which starts an empty node.
  void setBrokerListener(BrokerListener listener);
  Status startBroker();
  void stopBroker();

  std::string s3Endpoint() const { return "http://" + s3_address_ + ":" + std::to_string(s3_port_); }
  S3Config s3Config() const;
  std::string databaseUri() const;
  std::string amqpUri() const {
    return "amqp://" + broker_.username + ":" + broker_.password + "@" + broker_.address + ":" + std::to_string(amqp_port_) + "/";
  }
  // The environment the offload programs read their connections from.
  std::vector<std::string> programEnv(const std::string& pipeline, const std::string& bucket) const;
  const std::filesystem::path& root() const { return root_; }
  // Lists a program the test started beside the servers, so that it is
  // killed with them should the test process die without cleaning up.
  void track(pid_t pid) const;
  // How many DeleteObject requests versitygw logged for `key` of `bucket`
  // (for every key under it when `key` ends with '/').
  int s3Deletes(const std::string& bucket, const std::string& key) const;

  static constexpr const char* kAccessKey = "offloadtest";
  static constexpr const char* kSecretKey = "offload-test-secret-1";

 private:
  Status prepare();

  std::filesystem::path root_;
  int s3_port_ = 0, pg_port_ = 0, amqp_port_ = 0, dist_port_ = 0, epmd_port_ = 0;
  pid_t s3_pid_ = -1, broker_pid_ = -1, epmd_pid_ = -1;
  bool database_running_ = false;
  BrokerListener broker_;
  std::string s3_address_ = "127.0.0.1";
  int s3_fixed_port_ = 0;
};

}  // namespace warren::offload::testing
