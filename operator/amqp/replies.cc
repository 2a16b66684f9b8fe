#include "amqp/replies.h"

namespace warren::amqp {

std::string bytesToString(amqp_bytes_t bytes) {
  return std::string(static_cast<const char*>(bytes.bytes), bytes.len);
}

std::string describeClose(const amqp_method_t& method) {
  if (method.id == AMQP_CONNECTION_CLOSE_METHOD) {
    const auto* close = static_cast<const amqp_connection_close_t*>(method.decoded);
    return "connection closed by the broker: " + std::to_string(close->reply_code) + " " +
           bytesToString(close->reply_text);
  }
  if (method.id == AMQP_CHANNEL_CLOSE_METHOD) {
    const auto* close = static_cast<const amqp_channel_close_t*>(method.decoded);
    return "channel closed by the broker: " + std::to_string(close->reply_code) + " " + bytesToString(close->reply_text);
  }
  return {};
}

std::string describeReply(const amqp_rpc_reply_t& reply, const std::string& context) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return {};
    case AMQP_RESPONSE_NONE:
      return context + ": no reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return context + ": " + amqp_error_string2(reply.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION: {
      const std::string reason = describeClose(reply.reply);
      return context + ": " + (reason.empty() ? "broker error" : reason);
    }
  }
  return context + ": unknown reply";
}

}  // namespace warren::amqp
