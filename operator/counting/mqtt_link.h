// MqttLink: one MQTT connection (paho.mqtt.cpp) that reconnects with
// exponential backoff, reports its state as seed 002's services do
// (disconnected / connecting / connected / failed), keeps a bounded buffer
// of outgoing messages while disconnected (dropping the oldest, with a
// logged count), and re-subscribes after every reconnect.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "counting/counting_config.h"

namespace warren::counting {

enum class LinkState { kDisconnected, kConnecting, kConnected, kFailed };
const char* linkStateName(LinkState state);

// The outgoing buffer on its own (unit-tested).
class Outbox {
 public:
  explicit Outbox(size_t capacity) : capacity_(capacity) {}
  // Returns how many old messages were dropped to make room.
  size_t push(std::string message);
  bool pop(std::string& message);
  void pushFront(std::string message);
  size_t size() const { return messages_.size(); }
  size_t dropped() const { return dropped_; }

 private:
  size_t capacity_;
  std::deque<std::string> messages_;
  size_t dropped_ = 0;
};

class MqttLink {
 public:
  using MessageHandler = std::function<void(const std::string& payload)>;

  MqttLink(const CountingConfig& config, std::string client_id);
  ~MqttLink();

  void subscribe(const std::string& topic, MessageHandler handler);  // before start()
  void start();
  void stop();
  // Sends now when connected, else buffers.
  void publish(const std::string& topic, const std::string& payload);

  LinkState state() const { return state_.load(); }
  size_t pending() const;

 private:
  struct Impl;
  void run();

  CountingConfig config_;
  std::string client_id_;
  std::unique_ptr<Impl> impl_;
  std::atomic<LinkState> state_{LinkState::kDisconnected};
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  Outbox outbox_;
  std::string subscribe_topic_;
  MessageHandler handler_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace warren::counting
