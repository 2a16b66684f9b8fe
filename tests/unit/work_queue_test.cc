#include "runtime/work_queue.h"

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

namespace warren::runtime {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<RetryRateLimiter> fastLimiter() {
  return std::make_unique<ItemExponentialLimiter>(std::chrono::milliseconds(1), std::chrono::seconds(1));
}

TEST(WorkQueueTest, DeduplicatesQueuedKeys) {
  WorkQueue queue("", fastLimiter());
  queue.add("a");
  queue.add("b");
  queue.add("a");
  EXPECT_EQ(queue.length(), 2u);
  EXPECT_EQ(*queue.get(), "a");
  EXPECT_EQ(*queue.get(), "b");
}

TEST(WorkQueueTest, KeyAddedWhileProcessingIsProcessedAgainAfterDone) {
  WorkQueue queue("", fastLimiter());
  queue.add("a");
  auto key = queue.get();
  queue.add("a");               // while processing
  EXPECT_EQ(queue.length(), 0u);  // not handed out twice
  queue.done(*key);
  EXPECT_EQ(queue.length(), 1u);
  EXPECT_EQ(*queue.get(), "a");
}

TEST(WorkQueueTest, NoKeyIsProcessedByTwoWorkersAtOnce) {
  WorkQueue queue("", fastLimiter());
  std::mutex mutex;
  std::map<std::string, int> in_flight;
  std::atomic<int> overlaps{0}, processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto key = queue.get()) {
        {
          std::lock_guard<std::mutex> lock(mutex);
          if (++in_flight[*key] > 1) ++overlaps;
        }
        std::this_thread::sleep_for(200us);
        {
          std::lock_guard<std::mutex> lock(mutex);
          --in_flight[*key];
        }
        ++processed;
        queue.done(*key);
      }
    });
  }
  for (int i = 0; i < 2000; ++i) queue.add("key-" + std::to_string(i % 5));
  while (queue.length() > 0) std::this_thread::sleep_for(1ms);
  queue.shutDownWithDrain(5s);
  for (auto& w : workers) w.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_GE(processed.load(), 5);
}

TEST(WorkQueueTest, ExponentialBackoffMath) {
  ItemExponentialLimiter limiter(std::chrono::milliseconds(5), std::chrono::seconds(1000));
  std::vector<long long> delays;
  for (int i = 0; i < 5; ++i) {
    delays.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(limiter.when("k")).count());
  }
  EXPECT_EQ(delays, (std::vector<long long>{5, 10, 20, 40, 80}));
  EXPECT_EQ(limiter.retries("k"), 5);
  for (int i = 0; i < 100; ++i) (void)limiter.when("k");
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(limiter.when("k")).count(), 1000);
  limiter.forget("k");
  EXPECT_EQ(limiter.retries("k"), 0);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(limiter.when("k")).count(), 5);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(limiter.when("other")).count(), 5);
}

TEST(WorkQueueTest, DefaultLimiterIsTheMaxOfItemBackoffAndTokenBucket) {
  // A bucket on a clock that does not move: the figures are exact, whatever the machine's speed.
  const auto frozen = kube::TokenBucket::clock::now();
  std::vector<std::unique_ptr<RetryRateLimiter>> parts;
  parts.push_back(std::make_unique<ItemExponentialLimiter>(std::chrono::milliseconds(5), std::chrono::seconds(1000)));
  parts.push_back(std::make_unique<BucketLimiter>(10, 2, [frozen] { return frozen; }));
  MaxOfLimiter limiter(std::move(parts));
  // Two tokens of burst: the item backoff (5 ms) decides; then the bucket (100 ms per token) does.
  EXPECT_EQ(limiter.when("a"), std::chrono::milliseconds(5));
  EXPECT_EQ(limiter.when("b"), std::chrono::milliseconds(5));
  EXPECT_EQ(limiter.when("c"), std::chrono::milliseconds(100));
  EXPECT_EQ(limiter.when("d"), std::chrono::milliseconds(200));
  // The per-item backoff wins once it is the larger.
  for (int i = 0; i < 10; ++i) (void)limiter.when("a");
  EXPECT_EQ(limiter.when("a"), std::chrono::milliseconds(5 << 11));
}

TEST(WorkQueueTest, DelayedAddsComeOutInDueOrder) {
  WorkQueue queue("", fastLimiter());
  queue.addAfter("late", 150ms);
  queue.addAfter("early", 30ms);
  queue.addAfter("late", 400ms);  // keeps the earlier due time
  EXPECT_EQ(queue.length(), 0u);
  EXPECT_EQ(queue.waitingCount(), 2u);
  EXPECT_EQ(*queue.get(), "early");
  EXPECT_EQ(*queue.get(), "late");
}

TEST(WorkQueueTest, RateLimitedAddWaitsForBackoff) {
  WorkQueue queue("", std::make_unique<ItemExponentialLimiter>(std::chrono::milliseconds(50), std::chrono::seconds(1)));
  const auto start = std::chrono::steady_clock::now();
  queue.addRateLimited("k");
  EXPECT_EQ(queue.length(), 0u);
  EXPECT_EQ(*queue.get(), "k");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  EXPECT_EQ(queue.numRequeues("k"), 1);
  queue.forget("k");
  EXPECT_EQ(queue.numRequeues("k"), 0);
}

TEST(WorkQueueTest, ShutdownHandsOutNothingMoreAndDropsWhatIsQueued) {
  // A former leader must not reconcile the keys it had queued.
  WorkQueue queue("", fastLimiter());
  queue.add("a");
  queue.add("b");
  queue.addAfter("later", 1ms);
  queue.shutDown();
  queue.add("c");  // refused after shutdown
  EXPECT_FALSE(queue.get().has_value());
  EXPECT_EQ(queue.length(), 0u);
  EXPECT_EQ(queue.waitingCount(), 0u);
}

TEST(WorkQueueTest, ShutdownWithDrainWaitsForInFlightWork) {
  WorkQueue queue("", fastLimiter());
  queue.add("a");
  auto key = queue.get();
  std::thread finisher([&] {
    std::this_thread::sleep_for(50ms);
    queue.done(*key);
  });
  EXPECT_TRUE(queue.shutDownWithDrain(5s));
  finisher.join();
  WorkQueue stuck("", fastLimiter());
  stuck.add("x");
  (void)stuck.get();
  EXPECT_FALSE(stuck.shutDownWithDrain(50ms));
}

TEST(WorkQueueTest, BlockedGetWakesOnShutdown) {
  WorkQueue queue("", fastLimiter());
  std::thread waiter([&] { EXPECT_FALSE(queue.get().has_value()); });
  std::this_thread::sleep_for(20ms);
  queue.shutDown();
  waiter.join();
}

}  // namespace
}  // namespace warren::runtime
