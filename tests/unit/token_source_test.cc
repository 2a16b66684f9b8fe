#include "kube/token_source.h"

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace warren::kube {
namespace {

using ::testing::HasSubstr;

class TokenFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() / ("warren-token-" + std::to_string(::getpid()));
    writeToken("first\n");
  }
  void TearDown() override { std::filesystem::remove(path_); }
  void writeToken(const std::string& text) { std::ofstream(path_) << text; }

  std::filesystem::path path_;
  std::chrono::steady_clock::time_point now_ = std::chrono::steady_clock::now();
};

TEST_F(TokenFileTest, RereadsAfterTheRefreshPeriod) {
  FileTokenSource source(path_.string(), std::chrono::seconds(60), [this] { return now_; });
  EXPECT_EQ(*source.token(), "first");
  writeToken("second");
  now_ += std::chrono::seconds(30);
  EXPECT_EQ(*source.token(), "first");  // still cached
  now_ += std::chrono::seconds(31);
  EXPECT_EQ(*source.token(), "second");
}

TEST_F(TokenFileTest, InvalidateForcesARereadAfterA401) {
  FileTokenSource source(path_.string(), std::chrono::seconds(60), [this] { return now_; });
  EXPECT_EQ(*source.token(), "first");
  writeToken("rotated");
  source.invalidate();
  EXPECT_EQ(*source.token(), "rotated");
}

TEST_F(TokenFileTest, MissingFileIsAnError) {
  FileTokenSource source("/no/such/token");
  auto token = source.token();
  ASSERT_FALSE(token.ok());
  EXPECT_THAT(token.error().message, HasSubstr("/no/such/token"));
}

TEST(ExecCredentialTest, ParsesTokenAndExpiry) {
  auto credential = parseExecCredential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",)"
      R"("status":{"token":"tok","expirationTimestamp":"2030-01-02T03:04:05Z"}})");
  ASSERT_TRUE(credential.ok()) << credential.error().message;
  EXPECT_EQ(credential->token, "tok");
  ASSERT_TRUE(credential->expires_at.has_value());
  EXPECT_EQ(std::chrono::system_clock::to_time_t(*credential->expires_at), 1893553445);
}

TEST(ExecCredentialTest, RejectsBadOutput) {
  EXPECT_FALSE(parseExecCredential("not json").ok());
  EXPECT_FALSE(parseExecCredential(R"({"kind":"Other","status":{"token":"t"}})").ok());
  EXPECT_FALSE(parseExecCredential(R"({"kind":"ExecCredential","status":{}})").ok());
  EXPECT_FALSE(parseExecCredential(
                   R"({"kind":"ExecCredential","status":{"token":"t","expirationTimestamp":"soon"}})")
                   .ok());
}

TEST(Rfc3339Test, OffsetsAndFractions) {
  EXPECT_EQ(std::chrono::system_clock::to_time_t(*parseRfc3339("1970-01-01T01:00:00+01:00")), 0);
  EXPECT_EQ(std::chrono::system_clock::to_time_t(*parseRfc3339("1970-01-01T00:00:10.5Z")), 10);
  EXPECT_FALSE(parseRfc3339("1970-01-01 00:00:00").has_value());
}

// Runs a real plugin: a shell script that answers with an ExecCredential and
// counts its runs, proving caching and re-running after invalidate().
TEST(ExecTokenSourceTest, RunsThePluginAndCachesUntilInvalidated) {
  const auto dir = std::filesystem::temp_directory_path() / ("warren-exec-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto script = dir / "plugin.sh";
  std::ofstream(script) << "#!/bin/sh\n"
                           "echo run >> \"$COUNT_FILE\"\n"
                           "case \"$KUBERNETES_EXEC_INFO\" in *ExecCredential*) ;; *) exit 3;; esac\n"
                           "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
                           "\"ExecCredential\",\"status\":{\"token\":\"%s\"}}' \"$1\"\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  ExecConfig config;
  config.api_version = "client.authentication.k8s.io/v1";
  config.command = script.string();
  config.args = {"secret-token"};
  config.env = {{"COUNT_FILE", (dir / "count").string()}};
  ExecTokenSource source(config);
  EXPECT_EQ(*source.token(), "secret-token");
  EXPECT_EQ(*source.token(), "secret-token");
  source.invalidate();
  EXPECT_EQ(*source.token(), "secret-token");
  std::ifstream count(dir / "count");
  int runs = 0;
  for (std::string line; std::getline(count, line);) ++runs;
  EXPECT_EQ(runs, 2);
  std::filesystem::remove_all(dir);
}

TEST(ExecTokenSourceTest, FailingPluginIsAnError) {
  ExecConfig config;
  config.api_version = "client.authentication.k8s.io/v1";
  config.command = "/bin/false";
  ExecTokenSource source(config);
  auto token = source.token();
  ASSERT_FALSE(token.ok());
  EXPECT_THAT(token.error().message, HasSubstr("exited with status 1"));
  config.command = "warren-no-such-plugin";
  auto missing = ExecTokenSource(config).token();
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("command not found"));
}

}  // namespace
}  // namespace warren::kube
