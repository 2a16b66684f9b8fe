#include "counting/broker_link.h"

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
  if (messages_.size() >= capacity_) {
    ++dropped_;
    return;
  }
  messages_.push_front(std::move(message));
}

Backoff::Settings BrokerLink::defaultReconnectBackoff() {
  return {std::chrono::milliseconds(500), std::chrono::milliseconds(30000), 2.0, 0.2, std::chrono::milliseconds(60000)};
}

BrokerLink::BrokerLink(const CountingConfig& config, std::string client_id, Backoff::Settings reconnect)
    : config_(config), client_id_(std::move(client_id)), reconnect_(reconnect), outbox_(config.buffer_size) {}

BrokerLink::~BrokerLink() { stop(); }

void BrokerLink::subscribe(MessageHandler handler) { handler_ = std::move(handler); }

void BrokerLink::start() {
  thread_ = std::thread([this] { run(); });
}

void BrokerLink::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t BrokerLink::pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return outbox_.size();
}

void BrokerLink::publish(std::string payload) {
  size_t dropped = 0, dropped_total = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    dropped = outbox_.push(std::move(payload));
    dropped_total = outbox_.dropped();
  }
  wake_.notify_all();
  if (dropped > 0) {
    log::warn("outgoing buffer full, dropped oldest messages",
              {log::Field("dropped", static_cast<long long>(dropped)),
               log::Field("dropped_total", static_cast<long long>(dropped_total))});
  }
}

void BrokerLink::markConnected() {
  connected_ = true;
  state_ = LinkState::kConnected;
  log::info("connected to broker", {log::Field("protocol", config_.protocol), log::Field("host", config_.host),
                                    log::Field("port", config_.port)});
}

void BrokerLink::markLost() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    lost_ = true;
  }
  wake_.notify_all();
}

bool BrokerLink::takeNext(std::string& message) {
  std::lock_guard<std::mutex> lock(mutex_);
  return outbox_.pop(message);
}

void BrokerLink::giveBack(std::string message) {
  std::lock_guard<std::mutex> lock(mutex_);
  outbox_.pushFront(std::move(message));
}

void BrokerLink::waitForWork(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait_for(lock, timeout, [this] { return stopping_ || lost_ || outbox_.size() > 0; });
}

void BrokerLink::run() {
  // Failure boundary: whatever the protocol library throws becomes a state.
  Backoff backoff(reconnect_);
  int failures = 0;
  while (!stopping_) {
    state_ = failures >= kFailedAfterAttempts ? LinkState::kFailed : LinkState::kConnecting;
    connected_ = false;
    lost_ = false;
    Status served = okStatus();
    try {
      served = serve();
    } catch (const std::exception& e) {
      served = Error::local("BrokerError", e.what());
    }
    if (stopping_) break;
    const std::string error = served ? std::string("closed") : served.error().message;
    if (connected_) {
      // Lost after a good connection: try again at once, from a fresh backoff.
      state_ = LinkState::kDisconnected;
      failures = 0;
      backoff.reset();
      log::warn("broker connection lost", {log::Field("host", config_.host), log::Field("error", error)});
      continue;
    }
    ++failures;
    state_ = failures >= kFailedAfterAttempts ? LinkState::kFailed : LinkState::kDisconnected;
    const auto delay = backoff.next();
    log::warn("cannot connect to broker, retrying",
              {log::Field("host", config_.host), log::Field("port", config_.port), log::Field("error", error),
               log::Field("attempt", failures), log::Field("retry_in_ms", static_cast<long long>(delay.count()))});
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait_for(lock, delay, [this] { return stopping_.load(); });
  }
  state_ = LinkState::kDisconnected;
}

}  // namespace warren::counting
