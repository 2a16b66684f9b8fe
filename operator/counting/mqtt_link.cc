#include "counting/mqtt_link.h"

#include <mqtt/async_client.h>

#include "common/backoff.h"
#include "common/log.h"

namespace warren::counting {

const char* linkStateName(LinkState state) {
  switch (state) {
    case LinkState::kDisconnected: return "disconnected";
    case LinkState::kConnecting: return "connecting";
    case LinkState::kConnected: return "connected";
    case LinkState::kFailed: return "failed";
  }
  return "disconnected";
}

size_t Outbox::push(std::string message) {
  size_t dropped_now = 0;
  while (messages_.size() >= capacity_) {
    messages_.pop_front();
    ++dropped_now;
  }
  dropped_ += dropped_now;
  messages_.push_back(std::move(message));
  return dropped_now;
}

bool Outbox::pop(std::string& message) {
  if (messages_.empty()) return false;
  message = std::move(messages_.front());
  messages_.pop_front();
  return true;
}

void Outbox::pushFront(std::string message) {
  if (messages_.size() >= capacity_) return;
  messages_.push_front(std::move(message));
}

struct MqttLink::Impl {
  std::unique_ptr<mqtt::async_client> client;
};

MqttLink::MqttLink(const CountingConfig& config, std::string client_id)
    : config_(config), client_id_(std::move(client_id)), impl_(std::make_unique<Impl>()), outbox_(config.buffer_size) {}

MqttLink::~MqttLink() { stop(); }

void MqttLink::subscribe(const std::string& topic, MessageHandler handler) {
  subscribe_topic_ = topic;
  handler_ = std::move(handler);
}

size_t MqttLink::pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return outbox_.size();
}

void MqttLink::start() {
  thread_ = std::thread([this] { run(); });
}

void MqttLink::stop() {
  stopping_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  try {
    if (impl_->client && impl_->client->is_connected()) impl_->client->disconnect()->wait_for(std::chrono::seconds(2));
  } catch (const std::exception&) {
  }
}

void MqttLink::publish(const std::string& topic, const std::string& payload) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (state_ == LinkState::kConnected && impl_->client) {
    try {
      impl_->client->publish(topic, payload, 1, false);
      return;
    } catch (const std::exception& e) {
      log::warn("publish failed, buffering", {log::Field("error", e.what())});
    }
  }
  const size_t dropped = outbox_.push(payload);
  if (dropped > 0) {
    log::warn("outgoing buffer full, dropped oldest messages",
              {log::Field("dropped", static_cast<long long>(dropped)),
               log::Field("dropped_total", static_cast<long long>(outbox_.dropped()))});
  }
}

void MqttLink::run() {
  // Failure boundary: every paho exception is caught here and becomes a state.
  Backoff backoff({std::chrono::milliseconds(500), std::chrono::milliseconds(30000), 2.0, 0.2,
                   std::chrono::milliseconds(60000)});
  const std::string uri = "tcp://" + config_.host + ":" + std::to_string(config_.port);
  int failures = 0;
  while (!stopping_) {
    state_ = failures >= 5 ? LinkState::kFailed : LinkState::kConnecting;
    try {
      auto client = std::make_unique<mqtt::async_client>(uri, client_id_);
      mqtt::connect_options options;
      options.set_clean_session(true);
      options.set_keep_alive_interval(std::chrono::seconds(5));
      options.set_connect_timeout(std::chrono::seconds(5));
      if (!config_.username.empty()) {
        options.set_user_name(config_.username);
        options.set_password(config_.password);
      }
      client->set_connection_lost_handler([this](const std::string&) {
        {
          std::lock_guard<std::mutex> lock(mutex_);
          state_ = LinkState::kDisconnected;
        }
        wake_.notify_all();
      });
      if (handler_) {
        client->set_message_callback([this](mqtt::const_message_ptr message) { handler_(message->to_string()); });
      }
      client->connect(options)->wait();
      if (!subscribe_topic_.empty()) client->subscribe(subscribe_topic_, 1)->wait();
      {
        std::lock_guard<std::mutex> lock(mutex_);
        impl_->client = std::move(client);
        state_ = LinkState::kConnected;
        // Flush what was buffered while disconnected, oldest first.
        std::string message;
        while (outbox_.pop(message)) impl_->client->publish(config_.topic, message, 1, false);
      }
      log::info("connected to broker", {log::Field("uri", uri)});
      failures = 0;
      backoff.reset();
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || state_ != LinkState::kConnected; });
      if (!stopping_) log::warn("broker connection lost", {log::Field("uri", uri)});
    } catch (const std::exception& e) {
      ++failures;
      state_ = failures >= 5 ? LinkState::kFailed : LinkState::kDisconnected;
      const auto delay = backoff.next();
      log::warn("cannot connect to broker, retrying",
                {log::Field("uri", uri), log::Field("error", e.what()), log::Field("attempt", failures),
                 log::Field("retry_in_ms", static_cast<long long>(delay.count()))});
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait_for(lock, delay, [this] { return stopping_.load(); });
    }
  }
}

}  // namespace warren::counting
