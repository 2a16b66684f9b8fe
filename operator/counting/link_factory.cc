#include "counting/link_factory.h"

#include "counting/amqp_link.h"
#include "counting/mqtt_link.h"

namespace warren::counting {

std::unique_ptr<BrokerLink> makeBrokerLink(const CountingConfig& config, std::string client_id) {
  if (config.protocol == kAmqp) return std::make_unique<AmqpLink>(config, std::move(client_id));
  return std::make_unique<MqttLink>(config, std::move(client_id));
}

}  // namespace warren::counting
