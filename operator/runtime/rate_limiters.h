// Per-item retry delays for the work queue, as in client-go's default
// controller rate limiter: the larger of a per-item exponential backoff
// (5 ms doubling, capped at 1000 s) and an overall token bucket (10/s,
// burst 100).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kube/rate_limiter.h"

namespace warren::runtime {

using Duration = std::chrono::steady_clock::duration;

class RetryRateLimiter {
 public:
  virtual ~RetryRateLimiter() = default;
  // How long `key` waits before its next retry; counts the retry.
  virtual Duration when(const std::string& key) = 0;
  // The key succeeded: start its backoff over.
  virtual void forget(const std::string& key) = 0;
  virtual int retries(const std::string& key) = 0;
};

class ItemExponentialLimiter : public RetryRateLimiter {
 public:
  ItemExponentialLimiter(std::chrono::milliseconds base, std::chrono::seconds max);
  Duration when(const std::string& key) override;
  void forget(const std::string& key) override;
  int retries(const std::string& key) override;

 private:
  const std::chrono::milliseconds base_;
  const std::chrono::seconds max_;
  std::mutex mutex_;
  std::map<std::string, int> failures_;
};

class BucketLimiter : public RetryRateLimiter {
 public:
  using Now = std::function<kube::TokenBucket::clock::time_point()>;
  // `now` is replaceable so tests need no real clock.
  BucketLimiter(double qps, int burst, Now now = kube::TokenBucket::clock::now)
      : bucket_(qps, burst), now_(std::move(now)) {}
  Duration when(const std::string&) override { return bucket_.reserve(now_()); }
  void forget(const std::string&) override {}
  int retries(const std::string&) override { return 0; }

 private:
  kube::TokenBucket bucket_;
  Now now_;
};

class MaxOfLimiter : public RetryRateLimiter {
 public:
  explicit MaxOfLimiter(std::vector<std::unique_ptr<RetryRateLimiter>> limiters)
      : limiters_(std::move(limiters)) {}
  Duration when(const std::string& key) override;
  void forget(const std::string& key) override;
  int retries(const std::string& key) override;

 private:
  std::vector<std::unique_ptr<RetryRateLimiter>> limiters_;
};

struct RetrySettings {
  std::chrono::milliseconds base_delay{5};
  std::chrono::seconds max_delay{1000};
  double qps = 10;
  int burst = 100;
};
std::unique_ptr<RetryRateLimiter> defaultRetryLimiter(const RetrySettings& settings = {});

}  // namespace warren::runtime
