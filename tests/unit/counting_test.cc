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

}  // namespace
}  // namespace warren::counting
