// The RabbitMQ objects of one offload pipeline, named from the pipeline's
// name, and their declaration (idempotent: declaring what exists with the
// same arguments is a no-op). Producers publish pointers to a fanout
// exchange; every recipient has its own quorum queue bound to it, and so has
// the coordinator (its ledger queue); recipients publish ACKs to the ACK
// queue through the default exchange. Every party declares the exchanges,
// the ledger and ACK queues, so no pointer is published before the
// coordinator's queue exists; recipients' queues are declared by the
// recipient and by producers addressing it. Every
// queue dead-letters to one dead-letter queue after a delivery limit, so a
// poison message stops circling.
#pragma once

#include <string>
#include <vector>

#include "amqp/connection.h"
#include "common/result.h"

namespace warren::offload {

class Topology {
 public:
  explicit Topology(std::string pipeline) : pipeline_(std::move(pipeline)) {}

  const std::string& pipeline() const { return pipeline_; }
  std::string pointerExchange() const { return pipeline_ + ".pointers"; }
  std::string recipientQueue(const std::string& recipient) const { return pipeline_ + ".recipient." + recipient; }
  std::string ledgerQueue() const { return pipeline_ + ".ledger"; }
  std::string ackQueue() const { return pipeline_ + ".acks"; }
  std::string deadLetterExchange() const { return pipeline_ + ".dead-letter"; }
  std::string deadLetterQueue() const { return pipeline_ + ".dead-letter"; }
  // Quorum, dead-lettering, with the delivery limit.
  amqp::QueueSpec queue(const std::string& name) const;

  static constexpr int kDeliveryLimit = 20;

  // A producer also declares the queue of every recipient it addresses, so a
  // pointer published before a recipient first started still waits for it.
  Status declareForProducer(amqp::Connection& connection, const std::vector<std::string>& recipients) const;
  Status declareForRecipient(amqp::Connection& connection, const std::string& recipient) const;
  Status declareForCoordinator(amqp::Connection& connection) const;

 private:
  Status declareShared(amqp::Connection& connection) const;
  Status declareRecipientQueue(amqp::Connection& connection, const std::string& recipient) const;
  std::string pipeline_;
};

// [a-z0-9] with '-' and '.', 1-100 characters: a prefix for queue names.
bool validPipelineName(const std::string& name);

}  // namespace warren::offload
