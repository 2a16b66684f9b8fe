#include "binding/config_patch.h"

#include <gtest/gtest.h>

namespace warren::binding {
namespace {

using json = nlohmann::json;

TEST(PatchJsonTest, ReplacesValuesAndKeepsEveryOtherByte) {
  const std::string text =
      "{\n  \"service\": \"counting\",   \"rabbitmq\": {\n    \"host\": \"old-node\",\n    \"port\": 5672,\n"
      "    \"vhost\": \"/\"  },\n  \"interval\": 1.5\n}\n";
  auto patched = patchJson(text, {{"rabbitmq.host", "rabbit-1.example"}, {"rabbitmq.port", 5673}});
  ASSERT_TRUE(patched.ok()) << patched.error().message;
  EXPECT_EQ(*patched,
            "{\n  \"service\": \"counting\",   \"rabbitmq\": {\n    \"host\": \"rabbit-1.example\",\n    \"port\": 5673,\n"
            "    \"vhost\": \"/\"  },\n  \"interval\": 1.5\n}\n");
}

TEST(PatchJsonTest, AddsMissingFieldsToTheDeepestExistingObject) {
  auto patched = patchJson("{\"a\": {\"keep\": [1, 2]}}", {{"a.broker.host", "h"}, {"top", 1}});
  ASSERT_TRUE(patched.ok()) << patched.error().message;
  EXPECT_EQ(json::parse(*patched), json::parse(R"({"a": {"keep": [1, 2], "broker": {"host": "h"}}, "top": 1})"));
  EXPECT_EQ(patched->rfind("{\"a\": {\"keep\": [1, 2]", 0), 0u);  // the original text is a prefix, untouched
  auto empty = patchJson("{}", {{"host", "h"}});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "{\"host\": \"h\"}");
}

TEST(PatchJsonTest, BadPathsAndDocumentsAreErrorsNotRewrites) {
  auto through_scalar = patchJson("{\"a\": 5}", {{"a.b", "x"}});
  ASSERT_FALSE(through_scalar.ok());
  EXPECT_EQ(through_scalar.error().reason, "InvalidPath");
  EXPECT_NE(through_scalar.error().message.find("a.b"), std::string::npos);
  auto through_array = patchJson("{\"a\": [1]}", {{"a.b", "x"}});
  EXPECT_EQ(through_array.error().reason, "InvalidPath");
  EXPECT_EQ(patchJson("{not json", {{"a", 1}}).error().reason, "Unparseable");
  EXPECT_EQ(patchJson("[1, 2]", {{"a", 1}}).error().reason, "Unparseable");
}

TEST(PatchJsonTest, EscapedStringsAreSkippedCorrectly) {
  auto patched = patchJson(R"({"note": "a \"quoted\" } brace", "host": "x"})", {{"host", "y"}});
  ASSERT_TRUE(patched.ok());
  EXPECT_EQ(*patched, R"({"note": "a \"quoted\" } brace", "host": "y"})");
}

TEST(PatchYamlTest, ReplacesScalarsKeepingCommentsAndOrder) {
  const std::string text =
      "# client settings\nservice: counting\nrabbitmq:\n  host: old-node   # set by warren\n  port: 5672\n"
      "  vhost: /\ntopics:\n  - counter\n";
  auto patched = patchYaml(text, {{"rabbitmq.host", "rabbit-1.example"}, {"rabbitmq.port", 5673}});
  ASSERT_TRUE(patched.ok()) << patched.error().message;
  EXPECT_EQ(*patched,
            "# client settings\nservice: counting\nrabbitmq:\n  host: \"rabbit-1.example\"   # set by warren\n  port: 5673\n"
            "  vhost: /\ntopics:\n  - counter\n");
}

TEST(PatchYamlTest, AddsMissingKeys) {
  auto into_parent = patchYaml("rabbitmq:\n  port: 5672\nother: 1\n", {{"rabbitmq.host", "h"}});
  ASSERT_TRUE(into_parent.ok()) << into_parent.error().message;
  EXPECT_EQ(*into_parent, "rabbitmq:\n  port: 5672\n  host: \"h\"\nother: 1\n");
  auto new_tree = patchYaml("other: 1", {{"broker.endpoint.host", "h"}});
  ASSERT_TRUE(new_tree.ok()) << new_tree.error().message;
  EXPECT_EQ(*new_tree, "other: 1\nbroker:\n  endpoint:\n    host: \"h\"\n");
}

TEST(PatchYamlTest, BadPathsAndDocumentsAreErrors) {
  EXPECT_EQ(patchYaml("a: 5\n", {{"a.b", "x"}}).error().reason, "InvalidPath");
  EXPECT_EQ(patchYaml("a: {b: 1}\n", {{"a.b", "x"}}).error().reason, "InvalidPath");  // flow style
  EXPECT_EQ(patchYaml("a: |\n  text\n", {{"a", "x"}}).error().reason, "InvalidPath");
  EXPECT_EQ(patchYaml("a: [1\n", {{"a", "x"}}).error().reason, "Unparseable");
  EXPECT_EQ(patchYaml("- 1\n- 2\n", {{"a", "x"}}).error().reason, "Unparseable");
}

TEST(PatchEnvTest, ReplacesKeysKeepsTheRestAndAppendsMissingOnes) {
  const std::string text = "# broker\nRABBITMQ_HOST=old\nexport RABBITMQ_PORT=5672\nAPP_MODE=prod\n";
  auto patched = patchEnv(text, {{"RABBITMQ_HOST", "rabbit-1"}, {"RABBITMQ_PORT", 5673}, {"RABBITMQ_NODE", "rabbit@x"}});
  ASSERT_TRUE(patched.ok());
  EXPECT_EQ(*patched, "# broker\nRABBITMQ_HOST=rabbit-1\nexport RABBITMQ_PORT=5673\nAPP_MODE=prod\nRABBITMQ_NODE=rabbit@x\n");
  EXPECT_EQ(*patchEnv("A=1", {{"B", "2"}}), "A=1\nB=2\n");
  EXPECT_EQ(patchEnv("A=1\n", {{"BAD KEY", "2"}}).error().reason, "InvalidPath");
}

TEST(TemplateTest, RendersKnownPlaceholdersOnly) {
  auto rendered = renderTemplate("amqp://{{ host }}:{{port}}/", {{"host", "h"}, {"port", "5672"}});
  ASSERT_TRUE(rendered.ok());
  EXPECT_EQ(*rendered, "amqp://h:5672/");
  EXPECT_EQ(renderTemplate("{{nope}}", {{"host", "h"}}).error().reason, "InvalidPath");
  EXPECT_EQ(renderTemplate("{{host", {{"host", "h"}}).error().reason, "InvalidPath");
}

}  // namespace
}  // namespace warren::binding
