// AmqpLink: a BrokerLink over AMQP 0-9-1 with rabbitmq-c. Messages go to the
// amq.topic exchange with the topic as routing key ('/' becomes '.', as
// RabbitMQ's MQTT plugin maps topics), so MQTT and AMQP programs can talk to
// each other. Publishing uses publisher confirms: a message leaves the
// buffer only when the broker has acknowledged it; what was unconfirmed when
// a connection died is sent again on the next one (at least once). The
// subscriber reads through an exclusive, auto-deleted queue bound to the
// topic on whichever node it is connected to, so it survives the loss of
// any other node.
#pragma once

#include <string>

#include "counting/broker_link.h"

namespace warren::counting {

inline constexpr const char* kAmqpExchange = "amq.topic";

// "warren/counting/ns/name" -> "warren.counting.ns.name".
std::string amqpRoutingKey(const std::string& topic);

class AmqpLink : public BrokerLink {
 public:
  AmqpLink(const CountingConfig& config, std::string client_id) : BrokerLink(config, std::move(client_id)) {}
  ~AmqpLink() override { stop(); }

 protected:
  Status serve() override;
};

}  // namespace warren::counting
