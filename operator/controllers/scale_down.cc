#include "controllers/scale_down.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace warren::controllers {
namespace {

using json = nlohmann::json;

// The first quorum queue with a member on a departing node, in words; "" when none.
Result<std::string> queueOnDepartingNode(offload::ManagementTransport& transport,
                                         const std::vector<std::string>& departing) {
  const auto call = offload::management::listQueueMembers();
  auto queues = offload::fetchJson(transport, call);
  if (!queues) return queues.error();
  if (!queues->is_array()) return Error::local("BrokerRefused", call.path + " answered something other than a list");
  for (const auto& queue : *queues) {
    if (!queue.is_object() || queue.value("type", "") != "quorum") continue;
    const auto members = queue.find("members");
    if (members == queue.end() || !members->is_array()) continue;
    for (const auto& member : *members) {
      if (!member.is_string()) continue;
      if (std::find(departing.begin(), departing.end(), member.get<std::string>()) != departing.end()) {
        return "quorum queue " + queue.value("name", std::string("?")) + " (vhost " +
               queue.value("vhost", std::string("?")) + ") still has a member on " + member.get<std::string>();
      }
    }
  }
  return std::string();
}

}  // namespace

Result<ScaleDownCheck> prepareScaleDown(const ManagementFactory& connect, const std::string& url,
                                        const Credentials& credentials, const std::vector<std::string>& departing,
                                        const std::vector<std::string>& remaining) {
  auto transport = connect({url, credentials.username, credentials.password});
  if (!transport) return Error::local("BrokerUnreachable", "no management connection to " + url);
  auto blocking = queueOnDepartingNode(*transport, departing);
  if (!blocking) return blocking.error();
  if (blocking->empty()) return ScaleDownCheck{true, ""};
  // Grow first, so that a queue never has fewer members than it had, then shrink the departing nodes.
  for (const auto& node : remaining) {
    if (auto grown = offload::expectSuccess(*transport, offload::management::growQuorumQueuesOn(node)); !grown) {
      return grown.error();
    }
  }
  for (const auto& node : departing) {
    if (auto shrunk = offload::expectSuccess(*transport, offload::management::shrinkQuorumQueuesOn(node)); !shrunk) {
      return shrunk.error();
    }
  }
  auto still = queueOnDepartingNode(*transport, departing);
  if (!still) return still.error();
  return ScaleDownCheck{still->empty(), *still};
}

Result<DepartedNodes> listedDepartedNodes(const ManagementFactory& connect, const std::string& url,
                                          const Credentials& credentials, const std::vector<std::string>& departed) {
  auto transport = connect({url, credentials.username, credentials.password});
  if (!transport) return Error::local("BrokerUnreachable", "no management connection to " + url);
  const auto call = offload::management::listNodes();
  auto nodes = offload::fetchJson(*transport, call);
  if (!nodes) return nodes.error();
  if (!nodes->is_array()) return Error::local("BrokerRefused", call.path + " answered something other than a list");
  DepartedNodes listed;
  for (const auto& node : *nodes) {
    if (!node.is_object() || !node.contains("name") || !node["name"].is_string()) continue;
    const std::string name = node["name"];
    if (std::find(departed.begin(), departed.end(), name) == departed.end()) continue;
    const auto running = node.find("running");
    (running != node.end() && running->is_boolean() && running->get<bool>() ? listed.running : listed.stopped)
        .push_back(name);
  }
  return listed;
}

}  // namespace warren::controllers
