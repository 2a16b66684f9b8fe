// AmqpConnection: one AMQP 0-9-1 connection with one channel, over
// rabbitmq-c, with every failure returned as an Error value. A connection is
// used either to publish (with publisher confirms, and `mandatory` so that a
// message no queue takes comes back as an error) or to consume (manual
// acknowledgements, a prefetch limit); not both, so that waiting for a
// confirm never has to step over a delivery. Not thread-safe: one thread
// owns a connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace warren::amqp {

struct Endpoint {
  std::string host;
  int port = 5672;
  std::string vhost = "/";
  std::string username = "guest";
  std::string password = "guest";
  // "host:port", for logs (never the credentials).
  std::string address() const { return host + ":" + std::to_string(port); }
};

// "amqp://user:pass@host1:5672,host2,host3:5673/vhost" -> one endpoint per
// host, sharing credentials and vhost (percent-decoded). Error reason
// "InvalidConfig".
Result<std::vector<Endpoint>> parseUri(const std::string& uri);

// Arguments of a queue declared by warren: a quorum queue, optionally
// dead-lettering to an exchange and with a delivery limit for poison messages.
struct QueueSpec {
  std::string name;
  bool quorum = true;
  std::string dead_letter_exchange;  // empty: none
  int delivery_limit = 0;            // 0: none (quorum queues only)
};

struct Delivery {
  uint64_t tag = 0;
  std::string queue;  // which consumer it came through (the queue name)
  std::string body;
  std::string content_type;
  std::string message_id;
  bool redelivered = false;
};

class Connection {
 public:
  // Connects and logs in, opens channel 1. `heartbeat` 0 disables heartbeats.
  static Result<std::unique_ptr<Connection>> open(const Endpoint& endpoint, std::chrono::milliseconds timeout,
                                                  int heartbeat_seconds = 10);
  // open() on each endpoint in turn, starting at `*next` (advanced past the
  // one that answered, so a caller spreads reconnects over the cluster).
  static Result<std::unique_ptr<Connection>> openAny(const std::vector<Endpoint>& endpoints, size_t* next,
                                                     std::chrono::milliseconds timeout, int heartbeat_seconds = 10);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const Endpoint& endpoint() const { return endpoint_; }

  Status declareExchange(const std::string& name, const std::string& type);
  Status declareQueue(const QueueSpec& spec);
  Status bindQueue(const std::string& queue, const std::string& exchange, const std::string& routing_key = "");

  // Publishing: confirm mode, then publish() as often as wanted and
  // waitForConfirms() for all of them.
  Status enableConfirms();
  Status publish(const std::string& exchange, const std::string& routing_key, const std::string& body,
                 const std::string& content_type, const std::string& message_id = "");
  // Ok when the broker confirmed every message published so far; an Error
  // when it refused one (nack), returned one no queue took, or `timeout` passed.
  Status waitForConfirms(std::chrono::milliseconds timeout);

  // Consuming: a prefetch limit, then consume() per queue and next().
  Status setPrefetch(uint16_t count);
  Status consume(const std::string& queue);
  // The next delivery, or nullopt when none came within `timeout`.
  Result<std::optional<Delivery>> next(std::chrono::milliseconds timeout);
  Status ack(uint64_t tag);
  // Negative acknowledgement: back to the queue, or (requeue false) to the
  // dead-letter exchange when the queue has one.
  Status reject(uint64_t tag, bool requeue);

 private:
  explicit Connection(Endpoint endpoint);
  Status fail(const std::string& message);

  struct State;
  std::unique_ptr<State> state_;
  Endpoint endpoint_;
};

}  // namespace warren::amqp
