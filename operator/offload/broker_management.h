// The RabbitMQ management HTTP API, as far as an offload pipeline's
// topology needs it. Calls are plain values built without I/O (so their
// paths and bodies are unit-tested); ManagementTransport sends them, over
// libcurl with basic auth in production (curl_management_transport.h).
// ensureTopology() declares what is missing and leaves what exists alone, so
// repeating it writes nothing; removeTopology() deletes a pipeline's objects.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "offload/topology.h"

namespace warren::offload {

struct HttpCall {
  std::string method;  // GET, PUT, POST, DELETE
  std::string path;    // "/api/queues/%2F/name"
  std::string body;    // JSON, empty for none
  bool operator==(const HttpCall&) const = default;
};

struct HttpAnswer {
  long status = 0;
  std::string body;
};

class ManagementTransport {
 public:
  virtual ~ManagementTransport() = default;
  // An answer of any status; an Error (reason "BrokerUnreachable") only when
  // nothing came back.
  virtual Result<HttpAnswer> send(const HttpCall& call) = 0;
};

struct ManagementAccess {
  std::string url;  // "http://cluster.ns.svc:15672"
  std::string username;
  std::string password;
  std::chrono::milliseconds timeout{5000};
};

// Sends a GET: its JSON body, null for 404; "BrokerRefused" for any other status or a body that is not JSON.
Result<nlohmann::json> fetchJson(ManagementTransport& transport, const HttpCall& call);
// Sends `call` and wants a 2xx answer (or 404 when `absent_ok`); "BrokerRefused" otherwise, naming the call.
Status expectSuccess(ManagementTransport& transport, const HttpCall& call, bool absent_ok = false);

namespace management {
HttpCall getExchange(const std::string& vhost, const std::string& name);
HttpCall putExchange(const std::string& vhost, const std::string& name, const std::string& type);
HttpCall deleteExchange(const std::string& vhost, const std::string& name);
HttpCall getQueue(const std::string& vhost, const std::string& name);
HttpCall putQueue(const std::string& vhost, const amqp::QueueSpec& spec);
HttpCall deleteQueue(const std::string& vhost, const std::string& name);
HttpCall getBindings(const std::string& vhost, const std::string& exchange, const std::string& queue);
HttpCall postBinding(const std::string& vhost, const std::string& exchange, const std::string& queue);
HttpCall deleteBinding(const std::string& vhost, const std::string& exchange, const std::string& queue,
                       const std::string& properties_key);
HttpCall listQueueNames(const std::string& vhost);
// Every binding whose source is `exchange`.
HttpCall getExchangeBindings(const std::string& vhost, const std::string& exchange);
// Every queue of every vhost with its type and, for quorum queues, the nodes of its members.
HttpCall listQueueMembers();
// Every node of the cluster the broker knows, running or not, with whether it runs.
HttpCall listNodes();
// Removes the quorum-queue members on `node` (asynchronous: 202).
HttpCall shrinkQuorumQueuesOn(const std::string& node);
// Adds a member on `node` to every quorum queue that has none there.
HttpCall growQuorumQueuesOn(const std::string& node);
// The queue arguments warren declares for `spec`, as the API stores them.
nlohmann::json queueArguments(const amqp::QueueSpec& spec);
}  // namespace management

struct TopologyReport {
  std::vector<std::string> created;  // "queue P.acks", "binding P.pointers -> P.recipient.a"
  std::vector<std::string> unbound;  // recipient queues no longer bound to the pointer exchange
};

// Declares the pipeline's exchanges, the ledger, ACK and dead-letter queues,
// one quorum queue per recipient, and their bindings, where missing; unbinds
// recipient queues of recipients no longer listed (their queues stay, so
// pointers already in them are still delivered). Errors: "BrokerUnreachable",
// "TopologyConflict" (an existing object with other arguments: warren never
// replaces a queue that may hold messages), "BrokerRefused" (e.g. 401).
Result<TopologyReport> ensureTopology(ManagementTransport& transport, const Topology& topology,
                                      const std::vector<std::string>& recipients, const std::string& vhost = "/");

// Deletes the exchanges and every queue of the pipeline (found by listing,
// so recipients removed earlier go too); absent objects are no error.
Status removeTopology(ManagementTransport& transport, const Topology& topology, const std::string& vhost = "/");

}  // namespace warren::offload
