// BrokerLink: what the counting programs need from a broker connection,
// whatever the protocol. It owns one thread that connects, reconnects with
// exponential backoff, reports its state as seed 002's services do
// (disconnected / connecting / connected / failed), and keeps a bounded
// buffer of outgoing messages while disconnected (dropping the oldest, with
// a logged count). A protocol (MqttLink, AmqpLink) supplies serve(): one
// connection's life, from connect to loss.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/backoff.h"
#include "common/result.h"
#include "counting/counting_config.h"

namespace warren::counting {

enum class LinkState { kDisconnected, kConnecting, kConnected, kFailed };
// Connection attempts in a row that fail before the state reads "failed"
// (the link keeps trying).
inline constexpr int kFailedAfterAttempts = 5;
const char* linkStateName(LinkState state);

// The outgoing buffer on its own (unit-tested).
class Outbox {
 public:
  explicit Outbox(size_t capacity) : capacity_(capacity) {}
  // Returns how many old messages were dropped to make room.
  size_t push(std::string message);
  bool pop(std::string& message);
  // Puts back a message that could not be sent; it goes out first next time.
  void pushFront(std::string message);
  size_t size() const { return messages_.size(); }
  size_t dropped() const { return dropped_; }

 private:
  size_t capacity_;
  std::deque<std::string> messages_;
  size_t dropped_ = 0;
};

class BrokerLink {
 public:
  using MessageHandler = std::function<void(const std::string& payload)>;

  virtual ~BrokerLink();
  BrokerLink(const BrokerLink&) = delete;
  BrokerLink& operator=(const BrokerLink&) = delete;

  // Receive what is published on the config's topic (call before start()).
  void subscribe(MessageHandler handler);
  void start();
  // Idempotent; every subclass calls it from its destructor, before its
  // members go, because serve() runs on the link's thread.
  void stop();
  // Queues a message for the config's topic; the link's thread sends it as
  // soon as it is connected.
  void publish(std::string payload);

  LinkState state() const { return state_.load(); }
  size_t pending() const;

 protected:
  // Reconnects after 0.5 s doubling to 30 s, with 20% jitter.
  static Backoff::Settings defaultReconnectBackoff();
  BrokerLink(const CountingConfig& config, std::string client_id,
             Backoff::Settings reconnect = defaultReconnectBackoff());

  // One connection: connect (an error when that fails), subscribe if asked,
  // call markConnected(), then send the queued messages and deliver received
  // ones until the connection is lost (an error, or okStatus() when
  // stopping()). May throw; the link's thread catches everything.
  virtual Status serve() = 0;

  // For serve().
  const CountingConfig& config() const { return config_; }
  const std::string& clientId() const { return client_id_; }
  bool subscribed() const { return static_cast<bool>(handler_); }
  void deliver(const std::string& payload) const { handler_(payload); }
  void markConnected();
  void markLost();  // from a protocol library's callback thread
  bool lost() const { return lost_.load(); }
  bool stopping() const { return stopping_.load(); }
  bool takeNext(std::string& message);
  void giveBack(std::string message);
  // Returns when there is something to send, the connection is lost, the
  // link stops, or `timeout` passes.
  void waitForWork(std::chrono::milliseconds timeout);

 private:
  void run();

  CountingConfig config_;
  std::string client_id_;
  Backoff::Settings reconnect_;
  std::atomic<LinkState> state_{LinkState::kDisconnected};
  std::atomic<bool> connected_{false};
  std::atomic<bool> lost_{false};
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  Outbox outbox_;
  MessageHandler handler_;
  std::thread thread_;
};

}  // namespace warren::counting
