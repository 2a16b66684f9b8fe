#include "kube/rate_limiter.h"

#include <gtest/gtest.h>

namespace warren::kube {
namespace {

using std::chrono::milliseconds;

TEST(TokenBucketTest, BurstThenSteadyRate) {
  TokenBucket bucket(10, 3);
  const auto t0 = TokenBucket::clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(bucket.reserve(t0), TokenBucket::clock::duration::zero());
  // The fourth waits one token interval (100 ms), the fifth two.
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(bucket.reserve(t0)).count(), 100);
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(bucket.reserve(t0)).count(), 200);
}

TEST(TokenBucketTest, RefillsOverTimeButNotBeyondBurst) {
  TokenBucket bucket(10, 2);
  auto t = TokenBucket::clock::now();
  bucket.reserve(t);
  bucket.reserve(t);
  t += std::chrono::seconds(10);  // would be 100 tokens without the cap
  EXPECT_EQ(bucket.reserve(t), TokenBucket::clock::duration::zero());
  EXPECT_EQ(bucket.reserve(t), TokenBucket::clock::duration::zero());
  EXPECT_GT(bucket.reserve(t), TokenBucket::clock::duration::zero());
}

TEST(TokenBucketTest, NonPositiveQpsDisablesLimiting) {
  TokenBucket bucket(0, 1);
  const auto t = TokenBucket::clock::now();
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(bucket.reserve(t), TokenBucket::clock::duration::zero());
}

}  // namespace
}  // namespace warren::kube
