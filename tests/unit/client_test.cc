// Client behaviour over a scripted transport. This double stands in for the
// network only; the same paths run against a real kube-apiserver in
// tests/integration.
#include "kube/client.h"

#include <atomic>
#include <deque>
#include <thread>

#include <gtest/gtest.h>

namespace warren::kube {
namespace {

class ScriptedTransport : public HttpTransport {
 public:
  std::deque<Result<HttpResponse>> replies;
  std::vector<std::string> stream_lines;
  int stream_status = 200;
  std::vector<HttpRequest> sent;

  Result<HttpResponse> send(const HttpRequest& request) override {
    sent.push_back(request);
    if (replies.empty()) return Error::local("TransportError", "no scripted reply");
    auto reply = replies.front();
    replies.pop_front();
    return reply;
  }
  Result<HttpResponse> stream(const HttpRequest& request, int, const LineHandler& on_line,
                              Cancellation&) override {
    sent.push_back(request);
    if (stream_status != 200) return HttpResponse{stream_status, "", R"({"kind":"Status","reason":"Expired","code":410})"};
    for (const auto& line : stream_lines) {
      if (!on_line(line)) break;
    }
    return HttpResponse{200, "", ""};
  }
};

class CountingTokens : public TokenSource {
 public:
  int invalidations = 0;
  Result<std::string> token() override { return "token-" + std::to_string(invalidations); }
  void invalidate() override { ++invalidations; }
};

std::string authorization(const HttpRequest& request) {
  for (const auto& [name, value] : request.headers) {
    if (name == "Authorization") return value;
  }
  return {};
}

class ClientTest : public ::testing::Test {
 protected:
  std::shared_ptr<ScriptedTransport> transport_ = std::make_shared<ScriptedTransport>();
  std::shared_ptr<CountingTokens> tokens_ = std::make_shared<CountingTokens>();
  Client client_{transport_, tokens_, ClientOptions{0, 1}};
};

TEST_F(ClientTest, SendsBearerTokenAndParsesJson) {
  transport_->replies.push_back(HttpResponse{200, "application/json", R"({"kind":"ConfigMap"})"});
  auto result = client_.get(resources::configMaps(), "n", "c");
  ASSERT_TRUE(result.ok());
  EXPECT_EQ((*result)["kind"], "ConfigMap");
  EXPECT_EQ(authorization(transport_->sent.at(0)), "Bearer token-0");
}

TEST_F(ClientTest, RetriesOnceWithAFreshTokenAfter401) {
  transport_->replies.push_back(HttpResponse{401, "", R"({"kind":"Status","reason":"Unauthorized","code":401})"});
  transport_->replies.push_back(HttpResponse{200, "", "{}"});
  ASSERT_TRUE(client_.create(resources::configMaps(), "n", {}, {}).ok());
  EXPECT_EQ(tokens_->invalidations, 1);
  EXPECT_EQ(authorization(transport_->sent.at(1)), "Bearer token-1");
}

TEST_F(ClientTest, RetriesGetOnceOnConnectionFailureButNotWrites) {
  transport_->replies.push_back(Error::local("TransportError", "stale connection"));
  transport_->replies.push_back(HttpResponse{200, "", "{}"});
  EXPECT_TRUE(client_.get(resources::pods(), "n", "p").ok());
  transport_->replies.push_back(Error::local("TransportError", "refused"));
  auto write = client_.create(resources::pods(), "n", {}, {});
  ASSERT_FALSE(write.ok());
  EXPECT_EQ(write.error().reason, "TransportError");
  EXPECT_EQ(transport_->sent.size(), 3u);
}

TEST_F(ClientTest, ApiErrorsBecomeValues) {
  transport_->replies.push_back(HttpResponse{
      409, "", R"({"kind":"Status","reason":"AlreadyExists","message":"exists","code":409})"});
  auto result = client_.create(resources::configMaps(), "n", {}, {});
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(result.error().isAlreadyExists());
  EXPECT_EQ(result.error().message, "exists");
}

TEST_F(ClientTest, NonJsonSuccessBodyIsAnError) {
  transport_->replies.push_back(HttpResponse{200, "text/plain", "ok"});
  auto result = client_.get(resources::configMaps(), "n", "c");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().reason, "InvalidResponse");
}

TEST_F(ClientTest, ListAllFollowsContinueTokens) {
  transport_->replies.push_back(HttpResponse{
      200, "", R"({"metadata":{"resourceVersion":"5","continue":"p2"},"items":[{"n":1},{"n":2}]})"});
  transport_->replies.push_back(HttpResponse{
      200, "", R"({"metadata":{"resourceVersion":"5"},"items":[{"n":3}]})"});
  ListOptions options;
  options.limit = 2;
  auto result = client_.listAll(resources::configMaps(), "n", options);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ((*result)["items"].size(), 3u);
  EXPECT_EQ((*result)["metadata"]["resourceVersion"], "5");
  EXPECT_FALSE((*result)["metadata"].contains("continue"));
  EXPECT_EQ(transport_->sent.at(1).queryValue("continue"), "p2");
  EXPECT_EQ(transport_->sent.at(1).queryValue("limit"), "2");
}

TEST_F(ClientTest, WatchDeliversEventsUntilTheStreamEnds) {
  transport_->stream_lines = {R"({"type":"ADDED","object":{"metadata":{"resourceVersion":"1"}}})",
                              R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"2"}}})"};
  std::vector<std::string> seen;
  Cancellation cancel;
  auto status = client_.watch(resources::configMaps(), "", {}, [&](WatchEvent& e) {
    seen.push_back(std::string(watchEventTypeName(e.type)) + "@" + e.resourceVersion());
    return true;
  }, cancel);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED@1", "BOOKMARK@2"}));
  EXPECT_EQ(authorization(transport_->sent.at(0)), "Bearer token-0");
}

TEST_F(ClientTest, WatchInStreamErrorBecomesGone) {
  transport_->stream_lines = {
      R"({"type":"ERROR","object":{"kind":"Status","reason":"Expired","code":410,"message":"too old"}})",
      R"({"type":"ADDED","object":{}})"};
  int events = 0;
  Cancellation cancel;
  auto status = client_.watch(resources::configMaps(), "", {}, [&](WatchEvent&) { ++events; return true; }, cancel);
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(status.error().isGone());
  EXPECT_EQ(events, 0);
}

TEST_F(ClientTest, WatchMalformedLineStopsTheWatch) {
  transport_->stream_lines = {"{garbage", R"({"type":"ADDED","object":{}})"};
  int events = 0;
  Cancellation cancel;
  auto status = client_.watch(resources::configMaps(), "", {}, [&](WatchEvent&) { ++events; return true; }, cancel);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().reason, "MalformedWatchEvent");
  EXPECT_EQ(events, 0);
}

TEST_F(ClientTest, WatchHttpGoneIsAnError) {
  transport_->stream_status = 410;
  Cancellation cancel;
  auto status = client_.watch(resources::configMaps(), "", {}, [](WatchEvent&) { return true; }, cancel);
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(status.error().isGone());
}

TEST_F(ClientTest, ObserverSeesVerbAndStatus) {
  std::vector<std::pair<std::string, int>> observed;
  client_.setObserver([&](std::string_view verb, int code, std::chrono::duration<double>) {
    observed.emplace_back(verb, code);
  });
  transport_->replies.push_back(HttpResponse{404, "", ""});
  EXPECT_FALSE(client_.get(resources::pods(), "n", "p").ok());
  ASSERT_EQ(observed.size(), 1u);
  EXPECT_EQ(observed[0], (std::pair<std::string, int>{"get", 404}));
}

// The race ASan found in the watch transport: cancel() on one thread runs a
// callback while its subscriber, on another, sees the cancellation, and
// unsubscribes and destroys what the callback uses. unsubscribe() must wait.
TEST(CancellationTest, UnsubscribeWaitsForTheCallbackThatIsRunning) {
  Cancellation cancel;
  std::atomic<bool> started{false}, finished{false};
  const int id = cancel.subscribe([&] {
    started = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    finished = true;
  });
  std::thread canceller([&] { cancel.cancel(); });
  while (!started) std::this_thread::yield();
  EXPECT_TRUE(cancel.cancelled());
  cancel.unsubscribe(id);
  EXPECT_TRUE(finished) << "unsubscribe returned while the callback was still running";
  canceller.join();
}

TEST(CancellationTest, CallbacksMayUnsubscribeAndLateSubscribersRunAtOnce) {
  Cancellation cancel;
  int id = -1;
  int runs = 0;
  id = cancel.subscribe([&] {
    ++runs;
    cancel.unsubscribe(id);  // from inside its own callback: must not deadlock
  });
  const int removed = cancel.subscribe([&] { runs += 100; });
  cancel.unsubscribe(removed);
  cancel.cancel();
  cancel.cancel();  // once only
  EXPECT_EQ(runs, 1);
  const int late = cancel.subscribe([&] { runs += 10; });
  EXPECT_EQ(runs, 11);
  cancel.unsubscribe(late);  // already ran; returns at once
}

TEST(ClientFromConfigTest, ABearerTokenIsNeverSentOverPlainHttpUnlessAllowed) {
  ClientConfig config;
  config.server = "http://127.0.0.1:1";
  config.auth.token = "secret-token";
  auto refused = Client::fromConfig(config);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().reason, "InvalidConfig");
  EXPECT_NE(refused.error().message.find("http://"), std::string::npos);
  EXPECT_EQ(refused.error().message.find("secret-token"), std::string::npos) << "the token is never in a message";
  ClientOptions allowed;
  allowed.allow_http_bearer = true;
  EXPECT_TRUE(Client::fromConfig(config, allowed).ok());
  config.auth.token.clear();
  EXPECT_TRUE(Client::fromConfig(config).ok()) << "no bearer token, nothing to protect";
}

}  // namespace
}  // namespace warren::kube
