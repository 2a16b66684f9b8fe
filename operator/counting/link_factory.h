// Picks the BrokerLink for a config's protocol.
#pragma once

#include <memory>
#include <string>

#include "counting/broker_link.h"

namespace warren::counting {

std::unique_ptr<BrokerLink> makeBrokerLink(const CountingConfig& config, std::string client_id);

}  // namespace warren::counting
