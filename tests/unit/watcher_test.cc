// The watcher state machine fed recorded list pages and watch streams by a
// scripted ListerWatcher (no network: the real apiserver paths are in
// tests/integration/runtime_integration_test.cc).
#include "runtime/watcher.h"

#include <deque>

#include <gtest/gtest.h>

#include "kube/api_error.h"

namespace warren::runtime {
namespace {

using json = nlohmann::json;

json object(const std::string& name, const std::string& rv) {
  return {{"metadata", {{"name", name}, {"namespace", "n"}, {"resourceVersion", rv}}}};
}
std::string line(const std::string& type, const json& obj) { return json{{"type", type}, {"object", obj}}.dump(); }

struct ScriptedWatch {
  std::vector<std::string> lines;
  std::optional<Error> http_error;  // returned before any line
};

class ScriptedSource : public ListerWatcher {
 public:
  std::deque<Result<json>> pages;
  std::deque<ScriptedWatch> watches;
  std::vector<kube::ListOptions> list_calls;
  std::vector<kube::WatchOptions> watch_calls;

  Result<json> list(const kube::ListOptions& options) override {
    list_calls.push_back(options);
    if (pages.empty()) return Error::local("TransportError", "no page scripted");
    auto page = pages.front();
    pages.pop_front();
    return page;
  }
  Status watch(const kube::WatchOptions& options, const kube::Client::WatchHandler& handler,
               kube::Cancellation&) override {
    watch_calls.push_back(options);
    if (watches.empty()) return Error::local("TransportError", "no watch scripted");
    ScriptedWatch script = watches.front();
    watches.pop_front();
    if (script.http_error) return *script.http_error;
    // The same decoding the real client does.
    for (const auto& l : script.lines) {
      auto event = kube::parseWatchEvent(l);
      if (!event) return event.error();
      if (event->type == kube::WatchEventType::kError) return kube::decodeStatusObject(event->object, 500);
      if (!handler(*event)) break;
    }
    return okStatus();
  }
};

class WatcherTest : public ::testing::Test {
 protected:
  std::shared_ptr<ScriptedSource> source_ = std::make_shared<ScriptedSource>();
  Watcher watcher_{source_, [] {
                     WatcherSettings s;
                     s.page_size = 2;
                     s.backoff.jitter = 0;
                     s.name = "test";
                     return s;
                   }()};
  std::vector<std::string> events_;
  kube::Cancellation cancel_;

  std::chrono::milliseconds step() {
    return watcher_.step([this](WatcherEvent&& e) {
      static const char* names[] = {"Init", "InitApply", "InitDone", "Apply", "Delete"};
      std::string text = names[static_cast<int>(e.type)];
      if (!e.object.is_null()) text += ":" + e.object["metadata"].value("name", "");
      events_.push_back(text);
    }, cancel_);
  }
};

TEST_F(WatcherTest, PaginatedListThenWatchFromTheListsVersion) {
  source_->pages.push_back(json{{"metadata", {{"continue", "c1"}}}, {"items", {object("a", "1"), object("b", "2")}}});
  source_->pages.push_back(json{{"metadata", {{"resourceVersion", "10"}}}, {"items", {object("c", "3")}}});
  EXPECT_EQ(step().count(), 0);
  EXPECT_EQ(watcher_.state(), Watcher::State::kListing);
  EXPECT_EQ(step().count(), 0);
  EXPECT_EQ(watcher_.state(), Watcher::State::kWatching);
  EXPECT_EQ(events_, (std::vector<std::string>{"Init", "InitApply:a", "InitApply:b", "InitApply:c", "InitDone"}));
  EXPECT_EQ(source_->list_calls[1].continue_token, "c1");
  EXPECT_EQ(source_->list_calls[0].limit, 2);
  EXPECT_EQ(watcher_.resourceVersion(), "10");

  source_->watches.push_back({{line("ADDED", object("d", "11")), line("MODIFIED", object("a", "12")),
                               line("DELETED", object("b", "13"))}, {}});
  step();
  EXPECT_EQ(source_->watch_calls[0].resource_version, "10");
  EXPECT_TRUE(source_->watch_calls[0].allow_bookmarks);
  EXPECT_GE(source_->watch_calls[0].timeout_seconds, 300);
  EXPECT_LE(source_->watch_calls[0].timeout_seconds, 600);
  EXPECT_EQ(std::vector<std::string>(events_.begin() + 5, events_.end()),
            (std::vector<std::string>{"Apply:d", "Apply:a", "Delete:b"}));
  EXPECT_EQ(watcher_.resourceVersion(), "13");
}

TEST_F(WatcherTest, ResumesFromTheLastBookmarkAfterTheStreamEnds) {
  source_->pages.push_back(json{{"metadata", {{"resourceVersion", "5"}}}, {"items", json::array()}});
  step();
  source_->watches.push_back({{line("BOOKMARK", object("", "20"))}, {}});
  source_->watches.push_back({{}, {}});
  EXPECT_EQ(step().count(), 0);  // premature end: resume at once
  step();
  EXPECT_EQ(source_->watch_calls[1].resource_version, "20");
  EXPECT_EQ(watcher_.relists(), 1);
}

TEST_F(WatcherTest, AWatchClosedAtOnceWithoutAnEventBacksOffInsteadOfSpinning) {
  source_->pages.push_back(json{{"metadata", {{"resourceVersion", "5"}}}, {"items", json::array()}});
  step();
  source_->watches.push_back({{}, {}});
  source_->watches.push_back({{}, {}});
  const auto first = step();
  const auto second = step();
  EXPECT_GT(first.count(), 0) << "a server closing every watch at once must not be hammered";
  EXPECT_GT(second, first) << "the delay grows";
  EXPECT_EQ(watcher_.state(), Watcher::State::kWatching);
  EXPECT_EQ(watcher_.resourceVersion(), "5");
  EXPECT_EQ(watcher_.relists(), 1);
}

TEST_F(WatcherTest, InStreamGoneRelists) {
  source_->pages.push_back(json{{"metadata", {{"resourceVersion", "5"}}}, {"items", {object("a", "1")}}});
  step();
  source_->watches.push_back({{line("ADDED", object("b", "6")),
                               line("ERROR", json{{"kind", "Status"}, {"code", 410}, {"reason", "Expired"}})}, {}});
  step();
  EXPECT_EQ(watcher_.state(), Watcher::State::kEmpty);
  source_->pages.push_back(json{{"metadata", {{"resourceVersion", "50"}}}, {"items", {object("b", "6")}}});
  step();
  EXPECT_EQ(watcher_.relists(), 2);
  EXPECT_EQ(watcher_.resourceVersion(), "50");
  EXPECT_EQ(std::vector<std::string>(events_.end() - 3, events_.end()),
            (std::vector<std::string>{"Init", "InitApply:b", "InitDone"}));
}

TEST_F(WatcherTest, HttpGoneRelists) {
  source_->pages.push_back(json{{"metadata", {{"resourceVersion", "5"}}}, {"items", json::array()}});
  step();
  source_->watches.push_back({{}, Error{410, "Expired", "too old resource version"}});
  step();
  EXPECT_EQ(watcher_.state(), Watcher::State::kEmpty);
}

TEST_F(WatcherTest, MalformedLineRestartsTheWatchWithBackoffKeepingTheVersion) {
  source_->pages.push_back(json{{"metadata", {{"resourceVersion", "5"}}}, {"items", json::array()}});
  step();
  source_->watches.push_back({{line("ADDED", object("a", "7")), "{not json"}, {}});
  const auto delay = step();
  EXPECT_EQ(delay.count(), 800);  // the first backoff step
  EXPECT_EQ(watcher_.state(), Watcher::State::kWatching);
  EXPECT_EQ(watcher_.resourceVersion(), "7");
  source_->watches.push_back({{}, Error::local("TransportError", "refused")});
  EXPECT_EQ(step().count(), 1600);  // doubling
  source_->watches.push_back({{}, {}});
  step();
  EXPECT_EQ(source_->watch_calls.back().resource_version, "7");
}

TEST_F(WatcherTest, ListErrorsBackOffAndAnExpiredContinueTokenRestartsTheList) {
  source_->pages.push_back(Error::local("TransportError", "refused"));
  EXPECT_EQ(step().count(), 800);
  EXPECT_EQ(watcher_.state(), Watcher::State::kListing);
  source_->pages.push_back(json{{"metadata", {{"continue", "c1"}}}, {"items", {object("a", "1")}}});
  step();
  source_->pages.push_back(Error{410, "Expired", "continue token expired"});
  step();
  EXPECT_EQ(watcher_.state(), Watcher::State::kEmpty);
  source_->pages.push_back(json{{"metadata", {{"resourceVersion", "9"}}}, {"items", {object("a", "1")}}});
  step();
  EXPECT_EQ(watcher_.state(), Watcher::State::kWatching);
  EXPECT_TRUE(source_->list_calls.back().continue_token.empty());
}

}  // namespace
}  // namespace warren::runtime
