// Data plane, for real: the rabbitmq.conf, enabled_plugins and Erlang cookie
// that warren renders for a 3-replica BrokerCluster start three real
// rabbitmq-server processes (Debian's package). Each runs in a network
// namespace of its own, as a pod would, joined by a bridge; the StatefulSet
// DNS names are mapped to the namespaces' addresses in an Erlang inetrc file
// that only these processes read. The test creates and removes all of it.
//
// Proves: the nodes form ONE cluster; a quorum queue declared through node 0
// keeps accepting and delivering with node 0 stopped; a node with another
// cookie cannot join (negative control).
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "builders/broker_cluster_children.h"
#include "controllers/broker_cluster_controller.h"
#include "dataplane_fixture.h"
#include "kube/tls_material.h"

namespace warren::dataplane {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

// Each test renders its cluster with renderFor() (the fixture's builders).
using RenderedClusterTest = DataPlaneTest;

TEST_F(RenderedClusterTest, RenderedConfigFormsOneClusterThatSurvivesLosingNodeZero) {
  renderFor({{"replicas", 3}});
  nodes_.reserve(4);
  for (int i = 0; i < 3; ++i) start(i, cookie_);
  const std::set<std::string> all = {cluster_.nodeName(0), cluster_.nodeName(1), cluster_.nodeName(2)};
  ASSERT_TRUE(eventually([&] { return runningNodes(nodes_[0]) == all; }, 180s))
      << "no 3-node cluster; node 0 sees " << ::testing::PrintToString(runningNodes(nodes_[0])) << "\n"
      << logTail(nodes_[0]) << "\n--- node 2:\n" << logTail(nodes_[2]);
  // Every node agrees (node 2's management listener may still be starting).
  EXPECT_TRUE(eventually([&] { return runningNodes(nodes_[2]) == all; }, 60s));
  std::cout << "management API lists 3 running nodes: " << ::testing::PrintToString(all) << std::endl;
  auto overview = management(nodes_[0], "GET", "/api/overview");
  ASSERT_TRUE(overview.ok());
  const std::string version = overview->value("rabbitmq_version", "");
  std::cout << "RabbitMQ " << version << " on Erlang " << overview->value("erlang_version", "") << std::endl;
  EXPECT_EQ(version.rfind("4.", 0), 0u) << "the data plane is tested on RabbitMQ 4";

  // A quorum queue declared through node 0.
  ASSERT_TRUE(management(nodes_[0], "PUT", "/api/queues/%2F/orders",
                         {{"durable", true}, {"arguments", {{"x-queue-type", "quorum"}}}}).ok());
  auto queue = management(nodes_[0], "GET", "/api/queues/%2F/orders");
  ASSERT_TRUE(queue.ok());
  EXPECT_EQ((*queue)["type"], "quorum");
  auto publish = [&](const Node& via, const std::string& payload) {
    auto routed = management(via, "POST", "/api/exchanges/%2F/amq.default/publish",
                             {{"properties", json::object()}, {"routing_key", "orders"},
                              {"payload", payload}, {"payload_encoding", "string"}});
    return routed.ok() && (*routed).value("routed", false);
  };
  ASSERT_TRUE(publish(nodes_[0], "before-failover"));

  stop(nodes_[0]);
  // Through node 1, with node 0 gone: still accepting and delivering.
  ASSERT_TRUE(eventually([&] { return publish(nodes_[1], "after-failover"); }, 60s))
      << "the quorum queue stopped accepting with node 0 down\n" << logTail(nodes_[1]);
  std::set<std::string> delivered;
  ASSERT_TRUE(eventually([&] {
    auto got = management(nodes_[1], "POST", "/api/queues/%2F/orders/get",
                          {{"count", 10}, {"ackmode", "ack_requeue_false"}, {"encoding", "auto"}});
    if (got && got->is_array()) {
      for (const auto& m : *got) delivered.insert(m.value("payload", ""));
    }
    return delivered.count("before-failover") && delivered.count("after-failover");
  }, 60s)) << "delivered: " << ::testing::PrintToString(delivered);

  // Negative control: a node with another cookie, configured as a fourth pod
  // would be, tries to join and is turned away: the members refuse its
  // connections (the positive signal) and never list it.
  const std::string username = username_, password = password_;
  renderFor({{"replicas", 4}});
  username_ = username;  // the members keep the first cluster's user
  password_ = password;
  Node& stranger = start(3, controllers::randomAlphanumeric(44));
  ASSERT_TRUE(eventually([&] {
    std::ifstream log(nodes_[1].dir / "log" / (cluster_.nodeName(1) + ".log"));
    for (std::string line; std::getline(log, line);) {
      if (line.find("Connection attempt from node") != std::string::npos && line.find("dp-server-3") != std::string::npos &&
          line.find("Invalid challenge reply") != std::string::npos) {
        return true;
      }
    }
    return false;
  }, 180s)) << "node 1 never saw the stranger's connection refused\n" << logTail(stranger);
  auto members = management(nodes_[1], "GET", "/api/nodes");
  ASSERT_TRUE(members.ok());
  std::set<std::string> known;
  for (const auto& n : *members) known.insert(n.value("name", ""));
  EXPECT_EQ(known.count(cluster_.nodeName(3)), 0u);
}

}  // namespace
}  // namespace warren::dataplane
