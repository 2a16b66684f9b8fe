// A token-bucket limiter for client-side request rates (QPS with a burst).
// A non-positive QPS disables limiting, as controller-runtime does, leaving
// fairness to the API server's priority and fairness.
#pragma once

#include <chrono>
#include <mutex>

namespace warren::kube {

class TokenBucket {
 public:
  using clock = std::chrono::steady_clock;

  TokenBucket(double qps, int burst);

  // Takes one token; returns how long the caller must wait before using it
  // (zero when a token was available). Non-blocking, for tests and for
  // callers with their own timers.
  clock::duration reserve(clock::time_point now);
  // Blocks until a token is available.
  void acquire();

  double qps() const { return qps_; }
  int burst() const { return burst_; }

 private:
  const double qps_;
  const int burst_;
  std::mutex mutex_;
  double tokens_;
  clock::time_point last_{};
  bool started_ = false;
};

}  // namespace warren::kube
