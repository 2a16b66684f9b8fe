#include "kube/watch_event.h"

#include <gtest/gtest.h>

namespace warren::kube {
namespace {

TEST(WatchEventTest, ParsesEachType) {
  for (const char* type : {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"}) {
    auto event = parseWatchEvent(std::string(R"({"type":")") + type +
                                 R"(","object":{"metadata":{"resourceVersion":"9"}}})");
    ASSERT_TRUE(event.ok()) << type;
    EXPECT_EQ(watchEventTypeName(event->type), type);
    EXPECT_EQ(event->resourceVersion(), "9");
  }
}

TEST(WatchEventTest, MalformedLines) {
  for (const char* line : {"", "{", "[]", R"({"type":"ADDED"})", R"({"object":{}})",
                           R"({"type":"RENAMED","object":{}})", R"({"type":1,"object":{}})",
                           R"({"type":"ADDED","object":"x"})"}) {
    auto event = parseWatchEvent(line);
    ASSERT_FALSE(event.ok()) << line;
    EXPECT_EQ(event.error().reason, "MalformedWatchEvent");
  }
}

TEST(WatchEventTest, MissingResourceVersionIsEmpty) {
  auto event = parseWatchEvent(R"({"type":"ADDED","object":{"kind":"Pod"}})");
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->resourceVersion(), "");
}

}  // namespace
}  // namespace warren::kube
