#include "offload/broker_management.h"

#include <set>

#include "kube/http.h"

namespace warren::offload {
namespace {

using json = nlohmann::json;

std::string segment(const std::string& text) { return kube::percentEncode(text); }

std::string describe(const HttpCall& call, const HttpAnswer& answer) {
  std::string detail = answer.body.substr(0, 300);
  try {
    const json body = json::parse(answer.body);
    if (body.is_object() && body.contains("reason") && body["reason"].is_string()) detail = body["reason"].get<std::string>();
  } catch (const json::exception&) {
  }
  return call.method + " " + call.path + ": HTTP " + std::to_string(answer.status) + (detail.empty() ? "" : ": " + detail);
}

Error refused(const HttpCall& call, const HttpAnswer& answer) {
  Error error = Error::local("BrokerRefused", describe(call, answer));
  error.terminal = false;
  return error;
}

Error conflict(const std::string& what) { return Error::local("TopologyConflict", what); }

// An integer argument stored as any JSON number type compares by value.
bool sameArgument(const json& live, const json& wanted) {
  if (live.is_number() && wanted.is_number()) return live.get<long long>() == wanted.get<long long>();
  return live == wanted;
}

}  // namespace

Result<json> fetchJson(ManagementTransport& transport, const HttpCall& call) {
  auto answer = transport.send(call);
  if (!answer) return answer.error();
  if (answer->status == 404) return json();
  if (answer->status != 200) return refused(call, *answer);
  try {
    return json::parse(answer->body);
  } catch (const json::exception& e) {
    return Error::local("BrokerRefused", call.method + " " + call.path + ": not JSON: " + e.what());
  }
}

Status expectSuccess(ManagementTransport& transport, const HttpCall& call, bool absent_ok) {
  auto answer = transport.send(call);
  if (!answer) return answer.error();
  if (answer->status >= 200 && answer->status < 300) return okStatus();
  if (absent_ok && answer->status == 404) return okStatus();
  return refused(call, *answer);
}

namespace management {

HttpCall getExchange(const std::string& vhost, const std::string& name) {
  return {"GET", "/api/exchanges/" + segment(vhost) + "/" + segment(name), ""};
}
HttpCall putExchange(const std::string& vhost, const std::string& name, const std::string& type) {
  const json body = {{"type", type}, {"durable", true}, {"auto_delete", false}, {"internal", false},
                     {"arguments", json::object()}};
  return {"PUT", "/api/exchanges/" + segment(vhost) + "/" + segment(name), body.dump()};
}
HttpCall deleteExchange(const std::string& vhost, const std::string& name) {
  return {"DELETE", "/api/exchanges/" + segment(vhost) + "/" + segment(name), ""};
}
HttpCall getQueue(const std::string& vhost, const std::string& name) {
  return {"GET", "/api/queues/" + segment(vhost) + "/" + segment(name), ""};
}
json queueArguments(const amqp::QueueSpec& spec) {
  json arguments = json::object();
  if (spec.quorum) arguments["x-queue-type"] = "quorum";
  if (!spec.dead_letter_exchange.empty()) arguments["x-dead-letter-exchange"] = spec.dead_letter_exchange;
  if (spec.delivery_limit > 0) arguments["x-delivery-limit"] = spec.delivery_limit;
  return arguments;
}
HttpCall putQueue(const std::string& vhost, const amqp::QueueSpec& spec) {
  const json body = {{"durable", true}, {"auto_delete", false}, {"arguments", queueArguments(spec)}};
  return {"PUT", "/api/queues/" + segment(vhost) + "/" + segment(spec.name), body.dump()};
}
HttpCall deleteQueue(const std::string& vhost, const std::string& name) {
  return {"DELETE", "/api/queues/" + segment(vhost) + "/" + segment(name), ""};
}
HttpCall listQueueNames(const std::string& vhost) {
  return {"GET", "/api/queues/" + segment(vhost) + "?columns=name", ""};
}
HttpCall listQueueMembers() { return {"GET", "/api/queues?columns=name,vhost,type,members", ""}; }
HttpCall listNodes() { return {"GET", "/api/nodes?columns=name,running", ""}; }
HttpCall shrinkQuorumQueuesOn(const std::string& node) {
  return {"DELETE", "/api/queues/quorum/replicas/on/" + segment(node) + "/shrink", ""};
}
HttpCall growQuorumQueuesOn(const std::string& node) {
  return {"POST", "/api/queues/quorum/replicas/on/" + segment(node) + "/grow",
          json{{"vhost_pattern", ".*"}, {"queue_pattern", ".*"}, {"strategy", "all"}}.dump()};
}
HttpCall getBindings(const std::string& vhost, const std::string& exchange, const std::string& queue) {
  return {"GET", "/api/bindings/" + segment(vhost) + "/e/" + segment(exchange) + "/q/" + segment(queue), ""};
}
HttpCall postBinding(const std::string& vhost, const std::string& exchange, const std::string& queue) {
  return {"POST", "/api/bindings/" + segment(vhost) + "/e/" + segment(exchange) + "/q/" + segment(queue),
          json{{"routing_key", ""}, {"arguments", json::object()}}.dump()};
}
HttpCall deleteBinding(const std::string& vhost, const std::string& exchange, const std::string& queue,
                       const std::string& properties_key) {
  return {"DELETE",
          "/api/bindings/" + segment(vhost) + "/e/" + segment(exchange) + "/q/" + segment(queue) + "/" +
              segment(properties_key),
          ""};
}
HttpCall getExchangeBindings(const std::string& vhost, const std::string& exchange) {
  return {"GET", "/api/exchanges/" + segment(vhost) + "/" + segment(exchange) + "/bindings/source", ""};
}

}  // namespace management

namespace {

// The broker's answers are read as the API documents them; one of another shape is an error, not a crash.
template <typename Fn>
auto guardedAnswers(const char* what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const json::exception& e) {
    return Error::local("BrokerRefused", std::string(what) + ": an answer of an unexpected shape: " + e.what());
  }
}

Result<TopologyReport> declareTopology(ManagementTransport& transport, const Topology& topology,
                                       const std::vector<std::string>& recipients, const std::string& vhost);
Status deleteTopology(ManagementTransport& transport, const Topology& topology, const std::string& vhost);

}  // namespace

Result<TopologyReport> ensureTopology(ManagementTransport& transport, const Topology& topology,
                                      const std::vector<std::string>& recipients, const std::string& vhost) {
  return guardedAnswers("declaring the topology", [&] { return declareTopology(transport, topology, recipients, vhost); });
}

Status removeTopology(ManagementTransport& transport, const Topology& topology, const std::string& vhost) {
  return guardedAnswers("removing the topology", [&] { return deleteTopology(transport, topology, vhost); });
}

namespace {

Result<TopologyReport> declareTopology(ManagementTransport& transport, const Topology& topology,
                                       const std::vector<std::string>& recipients, const std::string& vhost) {
  TopologyReport report;
  for (const std::string& exchange : {topology.pointerExchange(), topology.deadLetterExchange()}) {
    auto live = fetchJson(transport, management::getExchange(vhost, exchange));
    if (!live) return live.error();
    if (live->is_null()) {
      if (auto put = expectSuccess(transport, management::putExchange(vhost, exchange, "fanout")); !put) return put.error();
      report.created.push_back("exchange " + exchange);
    } else if (live->value("type", "") != "fanout" || !live->value("durable", false)) {
      return conflict("exchange " + exchange + " exists as a " + live->value("type", "?") +
                      (live->value("durable", false) ? "" : ", not durable") + " exchange; warren needs a durable fanout");
    }
  }
  amqp::QueueSpec dead_letter;
  dead_letter.name = topology.deadLetterQueue();
  std::vector<amqp::QueueSpec> queues = {dead_letter, topology.queue(topology.ackQueue()), topology.queue(topology.ledgerQueue())};
  for (const auto& recipient : recipients) queues.push_back(topology.queue(topology.recipientQueue(recipient)));
  for (const auto& spec : queues) {
    auto live = fetchJson(transport, management::getQueue(vhost, spec.name));
    if (!live) return live.error();
    if (live->is_null()) {
      if (auto put = expectSuccess(transport, management::putQueue(vhost, spec)); !put) return put.error();
      report.created.push_back("queue " + spec.name);
      continue;
    }
    const json wanted = management::queueArguments(spec);
    const json arguments = live->value("arguments", json::object());
    for (const auto& [key, value] : wanted.items()) {
      if (!arguments.contains(key) || !sameArgument(arguments[key], value)) {
        return conflict("queue " + spec.name + " exists with " + key + " = " +
                        (arguments.contains(key) ? arguments[key].dump() : "unset") + "; warren declares " + value.dump() +
                        " (delete the queue or rename the pipeline)");
      }
    }
  }
  std::vector<std::pair<std::string, std::string>> bindings = {
      {topology.deadLetterExchange(), topology.deadLetterQueue()}, {topology.pointerExchange(), topology.ledgerQueue()}};
  for (const auto& recipient : recipients) bindings.push_back({topology.pointerExchange(), topology.recipientQueue(recipient)});
  for (const auto& [exchange, queue] : bindings) {
    auto live = fetchJson(transport, management::getBindings(vhost, exchange, queue));
    if (!live) return live.error();
    if (live->is_array() && !live->empty()) continue;
    if (auto post = expectSuccess(transport, management::postBinding(vhost, exchange, queue)); !post) return post.error();
    report.created.push_back("binding " + exchange + " -> " + queue);
  }
  // Recipient queues bound to the pointer exchange whose recipient is no longer listed.
  auto bound = fetchJson(transport, management::getExchangeBindings(vhost, topology.pointerExchange()));
  if (!bound) return bound.error();
  const std::set<std::string> wanted(recipients.begin(), recipients.end());
  const std::string prefix = topology.recipientQueue("");
  for (const auto& binding : bound->is_array() ? *bound : json::array()) {
    if (!binding.is_object() || binding.value("destination_type", "") != "queue") continue;
    const std::string queue = binding.value("destination", "");
    if (queue.rfind(prefix, 0) != 0 || wanted.count(queue.substr(prefix.size())) > 0) continue;
    if (auto removed = expectSuccess(transport,
                              management::deleteBinding(vhost, topology.pointerExchange(), queue,
                                                        binding.value("properties_key", "~")),
                              true);
        !removed) {
      return removed.error();
    }
    report.unbound.push_back(queue);
  }
  return report;
}

Status deleteTopology(ManagementTransport& transport, const Topology& topology, const std::string& vhost) {
  auto queues = fetchJson(transport, management::listQueueNames(vhost));
  if (!queues) return queues.error();
  const std::string recipient_prefix = topology.recipientQueue("");
  const std::set<std::string> fixed = {topology.ackQueue(), topology.ledgerQueue(), topology.deadLetterQueue()};
  for (const auto& queue : queues->is_array() ? *queues : json::array()) {
    const std::string name = queue.is_object() ? queue.value("name", "") : "";
    if (fixed.count(name) == 0 && name.rfind(recipient_prefix, 0) != 0) continue;
    if (auto removed = expectSuccess(transport, management::deleteQueue(vhost, name), true); !removed) return removed;
  }
  for (const std::string& exchange : {topology.pointerExchange(), topology.deadLetterExchange()}) {
    if (auto removed = expectSuccess(transport, management::deleteExchange(vhost, exchange), true); !removed) return removed;
  }
  return okStatus();
}

}  // namespace

}  // namespace warren::offload
