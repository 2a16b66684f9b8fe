#include "app/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace warren::app {
namespace {

using ::testing::HasSubstr;

TEST(OptionsTest, Defaults) {
  auto options = parseOptions({});
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->kubeconfig, "");
  EXPECT_EQ(options->watch_namespace, "");
  EXPECT_EQ(options->log_level, log::Level::kInfo);
  EXPECT_EQ(options->log_format, log::Format::kText);
  EXPECT_LE(options->kube_api_qps, 0) << "no client-side rate limit unless asked for";
  EXPECT_GT(options->binding_workers, options->max_concurrent_reconciles) << "a move reroutes many bindings at once";
}

TEST(OptionsTest, BothFlagForms) {
  auto options = parseOptions({"--kubeconfig=/k", "--context", "ctx", "--namespace=ns",
                               "--log-level", "debug", "--log-format=json", "--kube-api-qps=-1",
                               "--kube-api-burst", "7", "--binding-workers=32"});
  ASSERT_TRUE(options.ok()) << options.error().message;
  EXPECT_EQ(options->kubeconfig, "/k");
  EXPECT_EQ(options->context, "ctx");
  EXPECT_EQ(options->watch_namespace, "ns");
  EXPECT_EQ(options->log_level, log::Level::kDebug);
  EXPECT_EQ(options->log_format, log::Format::kJson);
  EXPECT_EQ(options->kube_api_qps, -1);
  EXPECT_EQ(options->kube_api_burst, 7);
  EXPECT_EQ(options->binding_workers, 32);
}

TEST(OptionsTest, BadFlagsAreNamed) {
  struct Case { std::vector<std::string> args; const char* expected; };
  for (const auto& c : std::vector<Case>{{{"--bogus"}, "unknown flag --bogus"},
                                         {{"--kubeconfig"}, "flag --kubeconfig: needs a value"},
                                         {{"--log-level=loud"}, "flag --log-level"},
                                         {{"--log-format", "xml"}, "flag --log-format"},
                                         {{"--kube-api-qps=fast"}, "flag --kube-api-qps"},
                                         {{"--kube-api-burst=0"}, "must be at least 1"},
                                         {{"--binding-workers", "0"}, "flag --binding-workers"}}) {
    auto options = parseOptions(c.args);
    ASSERT_FALSE(options.ok()) << c.args[0];
    EXPECT_EQ(options.error().reason, "InvalidFlag");
    EXPECT_THAT(options.error().message, HasSubstr(c.expected));
  }
}

TEST(OptionsTest, HelpAndVersion) {
  EXPECT_TRUE(parseOptions({"-h"})->show_help);
  EXPECT_TRUE(parseOptions({"--version"})->show_version);
  EXPECT_THAT(usage(), HasSubstr("--kubeconfig"));
}

}  // namespace
}  // namespace warren::app
