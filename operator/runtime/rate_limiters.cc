#include "runtime/rate_limiters.h"

#include <algorithm>
#include <cmath>

namespace warren::runtime {

ItemExponentialLimiter::ItemExponentialLimiter(std::chrono::milliseconds base, std::chrono::seconds max)
    : base_(base), max_(max) {}

Duration ItemExponentialLimiter::when(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  const int exponent = failures_[key]++;
  // Computed in floating point: 2^n overflows integers long before the cap.
  const double delay_ms = static_cast<double>(base_.count()) * std::pow(2.0, exponent);
  const double cap_ms = std::chrono::duration<double, std::milli>(max_).count();
  return std::chrono::duration_cast<Duration>(
      std::chrono::duration<double, std::milli>(std::min(delay_ms, cap_ms)));
}

void ItemExponentialLimiter::forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  failures_.erase(key);
}

int ItemExponentialLimiter::retries(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

Duration MaxOfLimiter::when(const std::string& key) {
  Duration longest = Duration::zero();
  for (auto& limiter : limiters_) longest = std::max(longest, limiter->when(key));
  return longest;
}

void MaxOfLimiter::forget(const std::string& key) {
  for (auto& limiter : limiters_) limiter->forget(key);
}

int MaxOfLimiter::retries(const std::string& key) {
  int most = 0;
  for (auto& limiter : limiters_) most = std::max(most, limiter->retries(key));
  return most;
}

std::unique_ptr<RetryRateLimiter> defaultRetryLimiter(const RetrySettings& settings) {
  std::vector<std::unique_ptr<RetryRateLimiter>> limiters;
  limiters.push_back(std::make_unique<ItemExponentialLimiter>(settings.base_delay, settings.max_delay));
  limiters.push_back(std::make_unique<BucketLimiter>(settings.qps, settings.burst));
  return std::make_unique<MaxOfLimiter>(std::move(limiters));
}

}  // namespace warren::runtime
