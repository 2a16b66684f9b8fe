#include "common/log.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace warren::log {
namespace {

TEST(LogTest, TextQuotesOnlyWhenNeeded) {
  const std::string line = render(Format::kText, Level::kInfo, "T", "reconciled",
                                  {Field("key", "ns/name"), Field("msg", "two words"), Field("n", 3)});
  EXPECT_EQ(line, R"(T info reconciled key=ns/name msg="two words" n=3)");
}

TEST(LogTest, JsonIsOneObjectWithTypedValues) {
  const std::string line = render(Format::kJson, Level::kError, "T", "failed",
                                  {Field("ok", false), Field("ms", 1.5), Field("why", "a\"b")});
  const auto json = nlohmann::json::parse(line);
  EXPECT_EQ(json["level"], "error");
  EXPECT_EQ(json["msg"], "failed");
  EXPECT_EQ(json["ok"], false);
  EXPECT_EQ(json["ms"], 1.5);
  EXPECT_EQ(json["why"], "a\"b");
}

TEST(LogTest, ParseNames) {
  EXPECT_EQ(parseLevel("warning"), Level::kWarn);
  EXPECT_FALSE(parseLevel("trace").has_value());
  EXPECT_EQ(parseFormat("json"), Format::kJson);
  EXPECT_FALSE(parseFormat("yaml").has_value());
}

}  // namespace
}  // namespace warren::log
