// Human-readable descriptions of rabbitmq-c's replies and close methods, for
// code that drives rabbitmq-c directly (amqp::Connection, the counting link).
#pragma once

#include <amqp.h>

#include <string>

namespace warren::amqp {

std::string bytesToString(amqp_bytes_t bytes);
// "connection closed by the broker: 320 CONNECTION_FORCED - ..." for a
// connection.close or channel.close method, else empty.
std::string describeClose(const amqp_method_t& method);
// Empty when `reply` is normal, else "<context>: what went wrong".
std::string describeReply(const amqp_rpc_reply_t& reply, const std::string& context);

}  // namespace warren::amqp
