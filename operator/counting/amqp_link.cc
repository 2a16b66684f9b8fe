#include "counting/amqp_link.h"

#include "amqp/replies.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include <algorithm>
#include <map>

namespace warren::counting {
namespace {

constexpr amqp_channel_t kChannel = 1;
constexpr int kHeartbeatSeconds = 5;
constexpr size_t kMaxUnconfirmed = 100;
constexpr auto kPollInterval = std::chrono::milliseconds(100);

// The connection, destroyed (and closed when it was open) on every path.
class Connection {
 public:
  Connection() : state_(amqp_new_connection()) {}
  ~Connection() {
    if (open_) {
      amqp_channel_close(state_, kChannel, AMQP_REPLY_SUCCESS);
      amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(state_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  amqp_connection_state_t get() const { return state_; }
  void markOpen(bool open) { open_ = open; }

 private:
  amqp_connection_state_t state_;
  bool open_ = false;
};

timeval toTimeval(std::chrono::milliseconds duration) {
  return {static_cast<time_t>(duration.count() / 1000), static_cast<suseconds_t>((duration.count() % 1000) * 1000)};
}

}  // namespace

std::string amqpRoutingKey(const std::string& topic) {
  std::string key = topic;
  std::replace(key.begin(), key.end(), '/', '.');
  return key;
}

Status AmqpLink::serve() {
  Connection connection;
  amqp_connection_state_t conn = connection.get();
  amqp_socket_t* socket = amqp_tcp_socket_new(conn);
  if (socket == nullptr) return Error::local("BrokerError", "cannot create a TCP socket");
  timeval connect_timeout = toTimeval(std::chrono::seconds(5));
  if (const int opened = amqp_socket_open_noblock(socket, config().host.c_str(), config().port, &connect_timeout);
      opened != AMQP_STATUS_OK) {
    return Error::local("ConnectFailed", std::string("connect: ") + amqp_error_string2(opened));
  }
  if (auto error = amqp::describeReply(amqp_login(conn, config().vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, kHeartbeatSeconds,
                                         AMQP_SASL_METHOD_PLAIN, config().username.c_str(), config().password.c_str()),
                              "login");
      !error.empty()) {
    return Error::local("ConnectFailed", error);
  }
  connection.markOpen(true);
  amqp_channel_open(conn, kChannel);
  if (auto error = amqp::describeReply(amqp_get_rpc_reply(conn), "channel.open"); !error.empty()) return Error::local("ConnectFailed", error);
  amqp_confirm_select(conn, kChannel);
  if (auto error = amqp::describeReply(amqp_get_rpc_reply(conn), "confirm.select"); !error.empty()) return Error::local("ConnectFailed", error);
  const std::string routing_key = amqpRoutingKey(config().topic);
  if (subscribed()) {
    const amqp_queue_declare_ok_t* declared =
        amqp_queue_declare(conn, kChannel, amqp_empty_bytes, /*passive=*/0, /*durable=*/0, /*exclusive=*/1,
                           /*auto_delete=*/1, amqp_empty_table);
    if (auto error = amqp::describeReply(amqp_get_rpc_reply(conn), "queue.declare"); !error.empty() || declared == nullptr) {
      return Error::local("ConnectFailed", error);
    }
    const std::string queue = amqp::bytesToString(declared->queue);
    amqp_queue_bind(conn, kChannel, amqp_cstring_bytes(queue.c_str()), amqp_cstring_bytes(kAmqpExchange),
                    amqp_cstring_bytes(routing_key.c_str()), amqp_empty_table);
    if (auto error = amqp::describeReply(amqp_get_rpc_reply(conn), "queue.bind"); !error.empty()) return Error::local("ConnectFailed", error);
    amqp_basic_consume(conn, kChannel, amqp_cstring_bytes(queue.c_str()), amqp_empty_bytes, /*no_local=*/0,
                       /*no_ack=*/0, /*exclusive=*/1, amqp_empty_table);
    if (auto error = amqp::describeReply(amqp_get_rpc_reply(conn), "basic.consume"); !error.empty()) return Error::local("ConnectFailed", error);
  }
  markConnected();

  // Sent but not yet confirmed, by delivery tag (the channel counts them from 1).
  std::map<uint64_t, std::string> unconfirmed;
  uint64_t last_tag = 0;
  auto fail = [&](const std::string& error) -> Status {
    // Unconfirmed messages go back in front of the buffer, in their order.
    for (auto it = unconfirmed.rbegin(); it != unconfirmed.rend(); ++it) giveBack(std::move(it->second));
    connection.markOpen(false);
    return Error::local("ConnectionLost", error);
  };
  amqp_basic_properties_t properties{};
  properties._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
  properties.content_type = amqp_cstring_bytes("application/json");
  properties.delivery_mode = 2;
  while (!stopping()) {
    std::string message;
    while (unconfirmed.size() < kMaxUnconfirmed && takeNext(message)) {
      const int sent = amqp_basic_publish(conn, kChannel, amqp_cstring_bytes(kAmqpExchange),
                                          amqp_cstring_bytes(routing_key.c_str()), 0, 0, &properties,
                                          amqp_bytes_t{message.size(), message.data()});
      unconfirmed.emplace(++last_tag, std::move(message));
      if (sent != AMQP_STATUS_OK) return fail(std::string("basic.publish: ") + amqp_error_string2(sent));
    }
    // Wait a little for a delivery or a confirm; this also keeps the heartbeats going.
    amqp_maybe_release_buffers(conn);
    timeval poll = toTimeval(kPollInterval);
    amqp_envelope_t envelope;
    const amqp_rpc_reply_t reply = amqp_consume_message(conn, &envelope, &poll, 0);
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
      const std::string payload = amqp::bytesToString(envelope.message.body);
      const uint64_t tag = envelope.delivery_tag;
      amqp_destroy_envelope(&envelope);
      if (subscribed()) deliver(payload);
      if (const int acked = amqp_basic_ack(conn, kChannel, tag, 0); acked != AMQP_STATUS_OK) {
        return fail(std::string("basic.ack: ") + amqp_error_string2(acked));
      }
      continue;
    }
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_TIMEOUT) continue;
    if (reply.reply_type != AMQP_RESPONSE_LIBRARY_EXCEPTION || reply.library_error != AMQP_STATUS_UNEXPECTED_STATE) {
      return fail(amqp::describeReply(reply, "wait"));
    }
    // Something other than a delivery: a publisher confirm, or the broker closing.
    amqp_frame_t frame;
    if (const int got = amqp_simple_wait_frame(conn, &frame); got != AMQP_STATUS_OK) {
      return fail(std::string("wait: ") + amqp_error_string2(got));
    }
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        const auto* ack = static_cast<const amqp_basic_ack_t*>(frame.payload.method.decoded);
        if (ack->multiple) {
          unconfirmed.erase(unconfirmed.begin(), unconfirmed.upper_bound(ack->delivery_tag));
        } else {
          unconfirmed.erase(ack->delivery_tag);
        }
        break;
      }
      case AMQP_BASIC_NACK_METHOD:
        return fail("the broker refused a message (basic.nack)");
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD:
        return fail(amqp::describeClose(frame.payload.method));
      default:
        break;
    }
  }
  return okStatus();
}

}  // namespace warren::counting
