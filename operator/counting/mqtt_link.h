// MqttLink: a BrokerLink over MQTT 3.1.1 with paho.mqtt.cpp (QoS 1, clean
// session), as seed 000's programs talk to RabbitMQ's MQTT plugin.
#pragma once

#include <string>

#include "counting/broker_link.h"

namespace warren::counting {

class MqttLink : public BrokerLink {
 public:
  MqttLink(const CountingConfig& config, std::string client_id) : BrokerLink(config, std::move(client_id)) {}
  ~MqttLink() override { stop(); }

 protected:
  Status serve() override;
};

}  // namespace warren::counting
