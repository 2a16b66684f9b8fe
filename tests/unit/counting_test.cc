#include <atomic>
#include <mutex>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "counting/counting_config.h"
#include "counting/amqp_link.h"
#include "counting/broker_link.h"

namespace warren::counting {
namespace {

using ::testing::HasSubstr;

const char* kConfig = R"({"broker": {"host": "rabbit-0", "port": 1883, "username": "u", "password": "p"},
                         "topic": "t", "intervalSeconds": 2, "startTime": "2026-01-01T00:00:00Z", "bufferSize": 3})";

TEST(CountingConfigTest, ParsesAndCountsFromTheStartTime) {
  auto config = parseCountingConfig(kConfig);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->host, "rabbit-0");
  EXPECT_EQ(config->interval, std::chrono::milliseconds(2000));
  // floor((now - start) / interval): the same count whoever computes it, whenever.
  EXPECT_EQ(countAt(*config, config->start_time + std::chrono::seconds(9)), 4);
  EXPECT_EQ(countAt(*config, config->start_time + std::chrono::seconds(10)), 5);
  EXPECT_EQ(countAt(*config, config->start_time - std::chrono::seconds(10)), 0);
  EXPECT_EQ(config->protocol, "mqtt");  // seed 000's default
}

TEST(CountingConfigTest, AmqpDefaultsToItsOwnPortAndTheRootVhost) {
  auto config = parseCountingConfig(
      R"({"broker": {"protocol": "amqp", "host": "rabbit-0"}, "startTime": "2026-01-01T00:00:00Z"})");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->protocol, "amqp");
  EXPECT_EQ(config->port, 5672);
  EXPECT_EQ(config->vhost, "/");
  auto mqtt = parseCountingConfig(R"({"broker": {"host": "rabbit-0"}, "startTime": "2026-01-01T00:00:00Z"})");
  ASSERT_TRUE(mqtt.ok());
  EXPECT_EQ(mqtt->port, 1883);
}

TEST(AmqpLinkTest, RoutingKeyIsTheTopicAsTheMqttPluginMapsIt) {
  // The MQTT plugin publishes "a/b/c" to amq.topic as "a.b.c"; AMQP programs use the same key.
  EXPECT_EQ(amqpRoutingKey("warren/counting/ns/name"), "warren.counting.ns.name");
  EXPECT_EQ(amqpRoutingKey("plain"), "plain");
  EXPECT_STREQ(kAmqpExchange, "amq.topic");
}

TEST(CountingConfigTest, BadFieldsAreNamed) {
  for (const auto& [text, field] : std::vector<std::pair<std::string, std::string>>{
           {"[]", "(file)"},
           {R"({"broker": {}, "startTime": "2026-01-01T00:00:00Z"})", "broker.host"},
           {R"({"broker": {"host": "h", "port": 0}, "startTime": "2026-01-01T00:00:00Z"})", "broker.port"},
           {R"({"broker": {"host": "h", "protocol": "stomp"}, "startTime": "2026-01-01T00:00:00Z"})", "broker.protocol"},
           {R"({"broker": {"host": "h"}, "startTime": "yesterday"})", "startTime"},
           {R"({"broker": {"host": "h"}, "startTime": "2026-01-01T00:00:00Z", "intervalSeconds": 0})", "intervalSeconds"},
           {R"({"broker": {"host": "h"}, "startTime": "2026-01-01T00:00:00Z", "bufferSize": 0})", "bufferSize"},
           {R"({"broker": {"host": 5}, "startTime": "2026-01-01T00:00:00Z"})", "wrong type"}}) {
    auto config = parseCountingConfig(text);
    ASSERT_FALSE(config.ok()) << text;
    EXPECT_THAT(config.error().message, HasSubstr(field)) << text;
  }
}

TEST(OutboxTest, KeepsTheNewestAndCountsWhatItDrops) {
  Outbox outbox(3);
  for (int i = 1; i <= 5; ++i) outbox.push(std::to_string(i));
  EXPECT_EQ(outbox.size(), 3u);
  EXPECT_EQ(outbox.dropped(), 2u);
  std::string message;
  std::vector<std::string> drained;
  while (outbox.pop(message)) drained.push_back(message);
  EXPECT_EQ(drained, (std::vector<std::string>{"3", "4", "5"}));  // oldest first
}

TEST(OutboxTest, AMessageGivenBackGoesOutFirstUnlessTheBufferIsFull) {
  Outbox outbox(2);
  outbox.push("2");
  outbox.pushFront("1");
  std::string message;
  ASSERT_TRUE(outbox.pop(message));
  EXPECT_EQ(message, "1");
  outbox.push("3");
  outbox.pushFront("0");  // full: the newer messages win, the drop is counted
  EXPECT_EQ(outbox.size(), 2u);
  EXPECT_EQ(outbox.dropped(), 1u);
  ASSERT_TRUE(outbox.pop(message));
  EXPECT_EQ(message, "2");
}

TEST(LinkStateTest, NamesMatchTheSeedServices) {
  EXPECT_STREQ(linkStateName(LinkState::kDisconnected), "disconnected");
  EXPECT_STREQ(linkStateName(LinkState::kConnecting), "connecting");
  EXPECT_STREQ(linkStateName(LinkState::kConnected), "connected");
  EXPECT_STREQ(linkStateName(LinkState::kFailed), "failed");
}

// A BrokerLink whose connections the test scripts: serve() runs `session`
// on the link's thread, with the protected helpers a protocol uses.
class ScriptedLink : public BrokerLink {
 public:
  using Session = std::function<Status(ScriptedLink&, int attempt)>;
  ScriptedLink(const CountingConfig& config, Session session, std::chrono::milliseconds backoff)
      : BrokerLink(config, "test", {backoff, backoff, 2.0, 0.0, std::chrono::milliseconds(60000)}),
        session_(std::move(session)) {}
  ~ScriptedLink() override { stop(); }

  int attempts() const { return attempts_.load(); }
  using BrokerLink::giveBack;
  using BrokerLink::markConnected;
  using BrokerLink::stopping;
  using BrokerLink::takeNext;
  using BrokerLink::waitForWork;

 protected:
  Status serve() override { return session_(*this, ++attempts_); }

 private:
  Session session_;
  std::atomic<int> attempts_{0};
};

bool eventually(const std::function<bool()>& condition) {
  for (int i = 0; i < 1000 && !condition(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return condition();
}

CountingConfig linkConfig() {
  CountingConfig config;
  config.host = "broker";
  config.buffer_size = 10;
  return config;
}

TEST(BrokerLinkTest, ReadsFailedAfterFiveRefusedAttemptsAndConnectedOnceTheBrokerAnswers) {
  std::atomic<bool> broker_up{false};
  ScriptedLink link(linkConfig(), [&](ScriptedLink& self, int) -> Status {
    if (!broker_up) return Error::local("ConnectFailed", "refused");
    self.markConnected();
    while (!self.stopping()) self.waitForWork(std::chrono::milliseconds(50));
    return okStatus();
  }, std::chrono::milliseconds(1));
  EXPECT_EQ(link.state(), LinkState::kDisconnected);
  link.start();
  ASSERT_TRUE(eventually([&] { return link.attempts() >= kFailedAfterAttempts + 1; }));
  EXPECT_EQ(link.state(), LinkState::kFailed);  // and it keeps trying
  broker_up = true;
  EXPECT_TRUE(eventually([&] { return link.state() == LinkState::kConnected; }));
  link.stop();
  EXPECT_EQ(link.state(), LinkState::kDisconnected);
}

TEST(BrokerLinkTest, WhatCouldNotBeSentGoesOutFirstOnTheNextConnection) {
  std::mutex mutex;
  std::vector<std::string> sent;
  ScriptedLink link(linkConfig(), [&](ScriptedLink& self, int attempt) -> Status {
    self.markConnected();
    std::string message;
    if (attempt == 1) {
      // The connection dies while the first message is being sent.
      if (!self.takeNext(message)) return Error::local("Test", "nothing queued");
      self.giveBack(std::move(message));
      return Error::local("ConnectionLost", "broker went away");
    }
    while (!self.stopping()) {
      while (self.takeNext(message)) {
        std::lock_guard<std::mutex> lock(mutex);
        sent.push_back(message);
      }
      self.waitForWork(std::chrono::milliseconds(50));
    }
    return okStatus();
  }, std::chrono::milliseconds(1));
  for (const char* count : {"1", "2", "3"}) link.publish(count);
  EXPECT_EQ(link.pending(), 3u);
  link.start();
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(mutex);
    return sent.size() == 3;
  }));
  link.publish("4");  // published while connected: sent at once
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(mutex);
    return sent.size() == 4;
  }));
  link.stop();
  EXPECT_EQ(sent, (std::vector<std::string>{"1", "2", "3", "4"}));
  EXPECT_EQ(link.attempts(), 2);
}

TEST(BrokerLinkTest, StopInterruptsTheWaitBeforeTheNextAttempt) {
  ScriptedLink link(linkConfig(), [](ScriptedLink&, int) -> Status { return Error::local("ConnectFailed", "refused"); },
                    std::chrono::milliseconds(600000));
  link.start();
  ASSERT_TRUE(eventually([&] { return link.attempts() == 1 && link.state() == LinkState::kDisconnected; }));
  link.stop();  // would take ten minutes if the backoff wait ignored it
  EXPECT_EQ(link.attempts(), 1);
}

}  // namespace
}  // namespace warren::counting
