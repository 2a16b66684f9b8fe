#include "amqp/connection.h"

#include "amqp/replies.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include <cctype>

namespace warren::amqp {
namespace {

constexpr amqp_channel_t kChannel = 1;

amqp_bytes_t bytes(const std::string& s) { return amqp_bytes_t{s.size(), const_cast<char*>(s.data())}; }

timeval toTimeval(std::chrono::milliseconds duration) {
  if (duration.count() < 0) duration = std::chrono::milliseconds(0);
  return {static_cast<time_t>(duration.count() / 1000), static_cast<suseconds_t>((duration.count() % 1000) * 1000)};
}

Result<std::string> percentDecode(const std::string& in, const std::string& field) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      return Error::local("InvalidConfig", "AMQP URI: bad percent-encoding in the " + field);
    }
    out += static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16));
    i += 2;
  }
  return out;
}

}  // namespace

Result<std::vector<Endpoint>> parseUri(const std::string& uri) {
  const std::string scheme = "amqp://";
  if (uri.rfind(scheme, 0) != 0) return Error::local("InvalidConfig", "AMQP URI must start with amqp://");
  std::string rest = uri.substr(scheme.size());
  Endpoint shared;
  std::string vhost_part;
  if (const auto slash = rest.find('/'); slash != std::string::npos) {
    vhost_part = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    auto vhost = percentDecode(vhost_part, "vhost");
    if (!vhost) return vhost.error();
    if (!vhost->empty()) shared.vhost = *vhost;
  }
  if (const auto at = rest.rfind('@'); at != std::string::npos) {
    const std::string userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = userinfo.find(':');
    auto user = percentDecode(userinfo.substr(0, colon), "username");
    if (!user) return user.error();
    shared.username = *user;
    if (colon != std::string::npos) {
      auto password = percentDecode(userinfo.substr(colon + 1), "password");
      if (!password) return password.error();
      shared.password = *password;
    }
  }
  std::vector<Endpoint> endpoints;
  size_t start = 0;
  while (start <= rest.size()) {
    const size_t comma = rest.find(',', start);
    const std::string hostport = rest.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    Endpoint endpoint = shared;
    std::string host = hostport;
    const auto colon = hostport.rfind(':');
    const auto bracket = hostport.find(']');  // "[::1]:5672": the port's colon follows the bracket
    if (colon != std::string::npos && (bracket == std::string::npos || bracket < colon)) {
      host = hostport.substr(0, colon);
      const std::string port = hostport.substr(colon + 1);
      if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(port) == 0 || std::stoi(port) > 65535) {
        return Error::local("InvalidConfig", "AMQP URI: bad port '" + port + "'");
      }
      endpoint.port = std::stoi(port);
    }
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty()) return Error::local("InvalidConfig", "AMQP URI: a host is empty");
    endpoint.host = host;
    endpoints.push_back(endpoint);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return endpoints;
}

struct Connection::State {
  amqp_connection_state_t conn = amqp_new_connection();
  bool open = false;
  bool broken = false;
  uint64_t published = 0;
  uint64_t confirmed = 0;
  std::string returned;  // why a message came back, until waitForConfirms reports it
};

Connection::Connection(Endpoint endpoint) : state_(std::make_unique<State>()), endpoint_(std::move(endpoint)) {}

Connection::~Connection() {
  if (state_->open && !state_->broken) {
    amqp_channel_close(state_->conn, kChannel, AMQP_REPLY_SUCCESS);
    amqp_connection_close(state_->conn, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(state_->conn);
}

Status Connection::fail(const std::string& message) {
  state_->broken = true;
  return Error::local("BrokerError", endpoint_.address() + ": " + message);
}

Result<std::unique_ptr<Connection>> Connection::open(const Endpoint& endpoint, std::chrono::milliseconds timeout,
                                                     int heartbeat_seconds) {
  std::unique_ptr<Connection> connection(new Connection(endpoint));
  amqp_connection_state_t conn = connection->state_->conn;
  amqp_socket_t* socket = amqp_tcp_socket_new(conn);
  if (socket == nullptr) return Error::local("BrokerError", "cannot create a TCP socket");
  timeval connect_timeout = toTimeval(timeout);
  if (const int opened = amqp_socket_open_noblock(socket, endpoint.host.c_str(), endpoint.port, &connect_timeout);
      opened != AMQP_STATUS_OK) {
    return Error::local("BrokerUnreachable", endpoint.address() + ": connect: " + amqp_error_string2(opened));
  }
  // Bounds every later RPC (declare, consume, ...) as well as the login.
  timeval rpc_timeout = toTimeval(timeout);
  amqp_set_rpc_timeout(conn, &rpc_timeout);
  const amqp_rpc_reply_t login = amqp_login(conn, endpoint.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, heartbeat_seconds,
                                            AMQP_SASL_METHOD_PLAIN, endpoint.username.c_str(), endpoint.password.c_str());
  if (auto error = describeReply(login, "login"); !error.empty()) {
    return Error::local(login.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION ? "BrokerRefused" : "BrokerUnreachable",
                        endpoint.address() + ": " + error);
  }
  connection->state_->open = true;
  amqp_channel_open(conn, kChannel);
  if (auto error = describeReply(amqp_get_rpc_reply(conn), "channel.open"); !error.empty()) {
    return connection->fail(error).error();
  }
  return connection;
}

Result<std::unique_ptr<Connection>> Connection::openAny(const std::vector<Endpoint>& endpoints, size_t* next,
                                                        std::chrono::milliseconds timeout, int heartbeat_seconds) {
  if (endpoints.empty()) return Error::local("InvalidConfig", "no AMQP endpoint");
  std::string errors;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    const size_t index = (*next + i) % endpoints.size();
    auto connection = open(endpoints[index], timeout, heartbeat_seconds);
    if (connection) {
      *next = index + 1;
      return connection;
    }
    errors += (errors.empty() ? "" : "; ") + connection.error().message;
  }
  *next += 1;
  return Error::local("BrokerUnreachable", errors);
}

Status Connection::declareExchange(const std::string& name, const std::string& type) {
  amqp_exchange_declare(state_->conn, kChannel, bytes(name), bytes(type), /*passive=*/0, /*durable=*/1,
                        /*auto_delete=*/0, /*internal=*/0, amqp_empty_table);
  if (auto error = describeReply(amqp_get_rpc_reply(state_->conn), "exchange.declare " + name); !error.empty()) {
    return fail(error);
  }
  return okStatus();
}

Status Connection::declareQueue(const QueueSpec& spec) {
  std::vector<amqp_table_entry_t> entries;
  auto utf8 = [&](const char* key, const std::string& value) {
    amqp_table_entry_t entry{};
    entry.key = amqp_cstring_bytes(key);
    entry.value.kind = AMQP_FIELD_KIND_UTF8;
    entry.value.value.bytes = bytes(value);
    entries.push_back(entry);
  };
  const std::string quorum = "quorum";
  if (spec.quorum) utf8("x-queue-type", quorum);
  if (!spec.dead_letter_exchange.empty()) utf8("x-dead-letter-exchange", spec.dead_letter_exchange);
  if (spec.delivery_limit > 0) {
    amqp_table_entry_t entry{};
    entry.key = amqp_cstring_bytes("x-delivery-limit");
    entry.value.kind = AMQP_FIELD_KIND_I64;
    entry.value.value.i64 = spec.delivery_limit;
    entries.push_back(entry);
  }
  const amqp_table_t arguments{static_cast<int>(entries.size()), entries.data()};
  amqp_queue_declare(state_->conn, kChannel, bytes(spec.name), /*passive=*/0, /*durable=*/1, /*exclusive=*/0,
                     /*auto_delete=*/0, arguments);
  if (auto error = describeReply(amqp_get_rpc_reply(state_->conn), "queue.declare " + spec.name); !error.empty()) {
    return fail(error);
  }
  return okStatus();
}

Status Connection::bindQueue(const std::string& queue, const std::string& exchange, const std::string& routing_key) {
  amqp_queue_bind(state_->conn, kChannel, bytes(queue), bytes(exchange), bytes(routing_key), amqp_empty_table);
  if (auto error = describeReply(amqp_get_rpc_reply(state_->conn), "queue.bind " + queue); !error.empty()) {
    return fail(error);
  }
  return okStatus();
}

Status Connection::enableConfirms() {
  amqp_confirm_select(state_->conn, kChannel);
  if (auto error = describeReply(amqp_get_rpc_reply(state_->conn), "confirm.select"); !error.empty()) return fail(error);
  return okStatus();
}

Status Connection::publish(const std::string& exchange, const std::string& routing_key, const std::string& body,
                           const std::string& content_type, const std::string& message_id) {
  if (state_->broken) return Error::local("BrokerError", endpoint_.address() + ": the connection failed earlier");
  amqp_basic_properties_t properties{};
  properties._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
  properties.content_type = bytes(content_type);
  properties.delivery_mode = 2;  // persistent
  if (!message_id.empty()) {
    properties._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
    properties.message_id = bytes(message_id);
  }
  const int sent = amqp_basic_publish(state_->conn, kChannel, bytes(exchange), bytes(routing_key), /*mandatory=*/1,
                                      /*immediate=*/0, &properties, bytes(body));
  if (sent != AMQP_STATUS_OK) return fail(std::string("basic.publish: ") + amqp_error_string2(sent));
  ++state_->published;
  return okStatus();
}

Status Connection::waitForConfirms(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (state_->confirmed < state_->published) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return fail("no publisher confirm within " + std::to_string(timeout.count()) + " ms");
    timeval wait = toTimeval(left);
    amqp_frame_t frame;
    const int got = amqp_simple_wait_frame_noblock(state_->conn, &frame, &wait);
    if (got == AMQP_STATUS_TIMEOUT) continue;
    if (got != AMQP_STATUS_OK) return fail(std::string("waiting for confirms: ") + amqp_error_string2(got));
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        const auto* ack = static_cast<const amqp_basic_ack_t*>(frame.payload.method.decoded);
        state_->confirmed = ack->multiple ? ack->delivery_tag : std::max(state_->confirmed, ack->delivery_tag);
        break;
      }
      case AMQP_BASIC_NACK_METHOD:
        return fail("the broker refused a message (basic.nack)");
      case AMQP_BASIC_RETURN_METHOD: {
        const auto* returned = static_cast<const amqp_basic_return_t*>(frame.payload.method.decoded);
        state_->returned = "a message to exchange '" + bytesToString(returned->exchange) + "' reached no queue (" +
                           std::to_string(returned->reply_code) + " " + bytesToString(returned->reply_text) + ")";
        amqp_message_t message;
        if (const auto read = amqp_read_message(state_->conn, kChannel, &message, 0);
            read.reply_type != AMQP_RESPONSE_NORMAL) {
          return fail(describeReply(read, "reading a returned message"));
        }
        amqp_destroy_message(&message);
        break;
      }
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD:
        return fail(describeClose(frame.payload.method));
      default:
        break;
    }
  }
  if (!state_->returned.empty()) {
    // The channel stays usable: the message was simply not routed.
    Error error = Error::local("Unroutable", endpoint_.address() + ": " + state_->returned);
    state_->returned.clear();
    return error;
  }
  return okStatus();
}

Status Connection::setPrefetch(uint16_t count) {
  amqp_basic_qos(state_->conn, kChannel, 0, count, 0);
  if (auto error = describeReply(amqp_get_rpc_reply(state_->conn), "basic.qos"); !error.empty()) return fail(error);
  return okStatus();
}

Status Connection::consume(const std::string& queue) {
  // The consumer tag is the queue name, so a delivery says where it came from.
  amqp_basic_consume(state_->conn, kChannel, bytes(queue), bytes(queue), /*no_local=*/0, /*no_ack=*/0,
                     /*exclusive=*/0, amqp_empty_table);
  if (auto error = describeReply(amqp_get_rpc_reply(state_->conn), "basic.consume " + queue); !error.empty()) {
    return fail(error);
  }
  return okStatus();
}

Result<std::optional<Delivery>> Connection::next(std::chrono::milliseconds timeout) {
  if (state_->broken) return Error::local("BrokerError", endpoint_.address() + ": the connection failed earlier");
  amqp_maybe_release_buffers(state_->conn);
  timeval wait = toTimeval(timeout);
  amqp_envelope_t envelope;
  const amqp_rpc_reply_t reply = amqp_consume_message(state_->conn, &envelope, &wait, 0);
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
    Delivery delivery;
    delivery.tag = envelope.delivery_tag;
    delivery.queue = bytesToString(envelope.consumer_tag);
    delivery.body = bytesToString(envelope.message.body);
    delivery.redelivered = envelope.redelivered != 0;
    if (envelope.message.properties._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) {
      delivery.content_type = bytesToString(envelope.message.properties.content_type);
    }
    if (envelope.message.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) {
      delivery.message_id = bytesToString(envelope.message.properties.message_id);
    }
    amqp_destroy_envelope(&envelope);
    return std::optional<Delivery>(std::move(delivery));
  }
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_TIMEOUT) {
    return std::optional<Delivery>();
  }
  if (reply.reply_type != AMQP_RESPONSE_LIBRARY_EXCEPTION || reply.library_error != AMQP_STATUS_UNEXPECTED_STATE) {
    return fail(describeReply(reply, "consume")).error();
  }
  // A method other than a delivery: the broker closing, or cancelling a consumer.
  amqp_frame_t frame;
  if (const int got = amqp_simple_wait_frame(state_->conn, &frame); got != AMQP_STATUS_OK) {
    return fail(std::string("consume: ") + amqp_error_string2(got)).error();
  }
  if (frame.frame_type == AMQP_FRAME_METHOD) {
    switch (frame.payload.method.id) {
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD:
        return fail(describeClose(frame.payload.method)).error();
      case AMQP_BASIC_CANCEL_METHOD:
        return fail("the broker cancelled a consumer (its queue was deleted or its node left)").error();
      default:
        break;
    }
  }
  return std::optional<Delivery>();
}

Status Connection::ack(uint64_t tag) {
  if (const int acked = amqp_basic_ack(state_->conn, kChannel, tag, 0); acked != AMQP_STATUS_OK) {
    return fail(std::string("basic.ack: ") + amqp_error_string2(acked));
  }
  return okStatus();
}

Status Connection::reject(uint64_t tag, bool requeue) {
  if (const int rejected = amqp_basic_reject(state_->conn, kChannel, tag, requeue ? 1 : 0); rejected != AMQP_STATUS_OK) {
    return fail(std::string("basic.reject: ") + amqp_error_string2(rejected));
  }
  return okStatus();
}

}  // namespace warren::amqp
