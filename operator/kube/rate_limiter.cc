#include "kube/rate_limiter.h"

#include <algorithm>
#include <thread>

namespace warren::kube {

TokenBucket::TokenBucket(double qps, int burst)
    : qps_(qps), burst_(std::max(burst, 1)), tokens_(std::max(burst, 1)) {}

TokenBucket::clock::duration TokenBucket::reserve(clock::time_point now) {
  if (qps_ <= 0) return clock::duration::zero();
  std::lock_guard<std::mutex> lock(mutex_);
  if (!started_) {
    started_ = true;
    last_ = now;
  }
  if (now > last_) {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min<double>(burst_, tokens_ + elapsed * qps_);
    last_ = now;
  }
  // Tokens may go negative: each reservation queues behind the ones before.
  tokens_ -= 1.0;
  if (tokens_ >= 0) return clock::duration::zero();
  return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(-tokens_ / qps_));
}

void TokenBucket::acquire() {
  const auto wait = reserve(clock::now());
  if (wait > clock::duration::zero()) std::this_thread::sleep_for(wait);
}

}  // namespace warren::kube
