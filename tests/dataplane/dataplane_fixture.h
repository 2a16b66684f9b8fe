// Shared fixture for the data-plane tests: real rabbitmq-server nodes
// (RabbitMQ 4.0.5, Debian trixie's package, chrooted into a root filesystem
// that hack/build-rabbitmq-rootfs.sh builds) started with exactly what warren
// renders, each in a network namespace of its own, as a pod would be, joined
// by a bridge. The pods' DNS
// names resolve through an Erlang inetrc file for the nodes and through
// /etc/netns/<namespace>/hosts for programs started with `ip netns exec`.
// The fixture creates and removes all of it; it needs root.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/broker_cluster.h"
#include "common/result.h"

namespace warren::dataplane {

// Runs a shell command quietly; true when it exits 0.
bool run(const std::string& command);
bool eventually(const std::function<bool()>& condition, std::chrono::seconds timeout);
// The counts a counting client recorded, one per line.
std::vector<long long> readCounts(const std::filesystem::path& file);

class DataPlaneTest : public ::testing::Test {
 protected:
  struct Node {
    int ordinal;
    std::string netns;
    std::string ip;
    std::filesystem::path dir;
    pid_t pid = -1;
  };

  void SetUp() override;
  void TearDown() override;

  // Renders what warren would for a BrokerCluster "dp" in namespace
  // "warren-dp" with `spec`, with the builders, and uses it (a fresh cookie
  // in cookie_, a fresh default user).
  void renderFor(const nlohmann::json& spec);

  // What warren rendered for a BrokerCluster, read back by the test.
  void useRendered(const api::BrokerCluster& cluster, const std::string& username, const std::string& password,
                   const nlohmann::json& config_map);

  // Starts node `ordinal` with the rendered files (and `cookie`) in its own namespace.
  Node& start(int ordinal, const std::string& cookie);
  void stop(Node& node);

  // A network namespace on the bridge with address `ip`; `hosts` becomes its /etc/hosts.
  void addNetworkNamespace(const std::string& netns, const std::string& ip, const std::string& hosts = "");
  // The address node `ordinal` has (or will have).
  std::string nodeIp(int ordinal) const { return subnet_ + "." + std::to_string(10 + ordinal); }
  // /etc/hosts lines mapping the pods' client DNS names (<pod>.<svc>.<ns>.svc) to the nodes.
  std::string podHostsFile(int replicas) const;

  // The management HTTP API of a node.
  Result<nlohmann::json> management(const Node& node, const std::string& method, const std::string& path,
                                    const nlohmann::json& body = nullptr);
  std::set<std::string> runningNodes(const Node& via);
  static std::string logTail(const std::filesystem::path& file);
  std::string logTail(const Node& node) { return logTail(node.dir / "out.log"); }

  // Starts `argv` in a process group of its own, output appended to `log`.
  static pid_t spawn(const std::vector<std::string>& argv, const std::filesystem::path& log);
  // spawn(), and killed at TearDown unless stopProgram() ended it first.
  pid_t spawnProgram(const std::vector<std::string>& argv, const std::filesystem::path& log);
  void stopProgram(pid_t pid);

  std::string cookie_;
  std::vector<pid_t> programs_;
  std::vector<std::string> namespaces_;
  std::string id_, subnet_, bridge_;
  std::filesystem::path root_;
  std::filesystem::path rootfs_;  // RabbitMQ 4's root filesystem (hack/build-rabbitmq-rootfs.sh)
  api::BrokerCluster cluster_;
  std::string username_, password_;
  nlohmann::json config_map_;
  std::vector<Node> nodes_;
};

}  // namespace warren::dataplane
