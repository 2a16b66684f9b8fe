#include "offload/topology.h"

#include <algorithm>

namespace warren::offload {

bool validPipelineName(const std::string& name) {
  return !name.empty() && name.size() <= 100 && std::isalnum(static_cast<unsigned char>(name.front())) &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
         });
}

amqp::QueueSpec Topology::queue(const std::string& name) const {
  amqp::QueueSpec spec;
  spec.name = name;
  spec.quorum = true;
  spec.dead_letter_exchange = deadLetterExchange();
  spec.delivery_limit = kDeliveryLimit;
  return spec;
}

Status Topology::declareShared(amqp::Connection& connection) const {
  if (auto declared = connection.declareExchange(pointerExchange(), "fanout"); !declared) return declared;
  if (auto declared = connection.declareExchange(deadLetterExchange(), "fanout"); !declared) return declared;
  amqp::QueueSpec dead;
  dead.name = deadLetterQueue();
  if (auto declared = connection.declareQueue(dead); !declared) return declared;
  if (auto bound = connection.bindQueue(deadLetterQueue(), deadLetterExchange()); !bound) return bound;
  if (auto declared = connection.declareQueue(queue(ackQueue())); !declared) return declared;
  // The coordinator's copy of every pointer must exist before the first
  // pointer is published, whoever comes up first.
  if (auto declared = connection.declareQueue(queue(ledgerQueue())); !declared) return declared;
  return connection.bindQueue(ledgerQueue(), pointerExchange());
}

Status Topology::declareRecipientQueue(amqp::Connection& connection, const std::string& recipient) const {
  if (auto declared = connection.declareQueue(queue(recipientQueue(recipient))); !declared) return declared;
  return connection.bindQueue(recipientQueue(recipient), pointerExchange());
}

Status Topology::declareForProducer(amqp::Connection& connection, const std::vector<std::string>& recipients) const {
  if (auto shared = declareShared(connection); !shared) return shared;
  for (const auto& recipient : recipients) {
    if (auto declared = declareRecipientQueue(connection, recipient); !declared) return declared;
  }
  return okStatus();
}

Status Topology::declareForRecipient(amqp::Connection& connection, const std::string& recipient) const {
  if (auto shared = declareShared(connection); !shared) return shared;
  return declareRecipientQueue(connection, recipient);
}

Status Topology::declareForCoordinator(amqp::Connection& connection) const { return declareShared(connection); }

}  // namespace warren::offload
