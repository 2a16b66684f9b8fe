#include "common/backoff.h"

#include <algorithm>

namespace warren {

Backoff::Backoff(Settings settings, std::function<double()> random01)
    : settings_(settings), random01_(std::move(random01)) {
  if (!random01_) {
    random01_ = [this] { return std::uniform_real_distribution<double>(0.0, 1.0)(engine_); };
  }
}

std::chrono::milliseconds Backoff::next(clock::time_point now) {
  const bool idle_long = last_ != clock::time_point{} && now - last_ >= settings_.reset_after;
  if (current_ms_ == 0 || idle_long) {
    current_ms_ = static_cast<double>(settings_.initial.count());
  } else {
    current_ms_ = std::min(current_ms_ * settings_.factor, static_cast<double>(settings_.max.count()));
  }
  last_ = now;
  const double jittered = current_ms_ * (1.0 + settings_.jitter * random01_());
  return std::chrono::milliseconds(static_cast<long long>(jittered));
}

void Backoff::reset() {
  current_ms_ = 0;
  last_ = {};
}

}  // namespace warren
