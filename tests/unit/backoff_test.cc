#include "common/backoff.h"

#include <gtest/gtest.h>

namespace warren {
namespace {

using std::chrono::milliseconds;

TEST(BackoffTest, DoublesUpToTheCapWithoutJitter) {
  Backoff backoff({milliseconds(800), milliseconds(30000), 2.0, 0.0, milliseconds(120000)});
  auto now = Backoff::clock::now();
  std::vector<long long> delays;
  for (int i = 0; i < 8; ++i) delays.push_back(backoff.next(now += milliseconds(1)).count());
  EXPECT_EQ(delays, (std::vector<long long>{800, 1600, 3200, 6400, 12800, 25600, 30000, 30000}));
}

TEST(BackoffTest, JitterScalesWithinOnePlusJitter) {
  Backoff low({milliseconds(800), milliseconds(30000), 2.0, 1.0, milliseconds(120000)}, [] { return 0.0; });
  Backoff high({milliseconds(800), milliseconds(30000), 2.0, 1.0, milliseconds(120000)}, [] { return 0.999; });
  EXPECT_EQ(low.next().count(), 800);
  EXPECT_EQ(high.next().count(), 1599);
}

TEST(BackoffTest, ResetsAfterAHealthyStretch) {
  Backoff backoff({milliseconds(800), milliseconds(30000), 2.0, 0.0, milliseconds(120000)});
  auto now = Backoff::clock::now();
  backoff.next(now);
  backoff.next(now += milliseconds(10));
  EXPECT_EQ(backoff.next(now += milliseconds(10)).count(), 3200);
  EXPECT_EQ(backoff.next(now += milliseconds(120000)).count(), 800);
}

}  // namespace
}  // namespace warren
