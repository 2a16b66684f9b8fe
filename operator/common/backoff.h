// Exponential backoff with jitter, as client-go's reflector uses for
// reconnects: each delay doubles up to a cap, scaled by a random factor in
// [1, 1 + jitter), and the sequence restarts after a long healthy stretch.
#pragma once

#include <chrono>
#include <functional>
#include <random>

namespace warren {

class Backoff {
 public:
  using clock = std::chrono::steady_clock;
  struct Settings {
    std::chrono::milliseconds initial{800};
    std::chrono::milliseconds max{30000};
    double factor = 2.0;
    double jitter = 1.0;  // 0 = no jitter
    std::chrono::milliseconds reset_after{120000};
  };

  explicit Backoff(Settings settings, std::function<double()> random01 = {});

  // The delay before the next attempt. `now` decides whether the previous
  // failure was long enough ago to start again from `initial`.
  std::chrono::milliseconds next(clock::time_point now = clock::now());
  void reset();

 private:
  Settings settings_;
  std::function<double()> random01_;
  std::mt19937_64 engine_{std::random_device{}()};
  double current_ms_ = 0;
  clock::time_point last_{};
};

}  // namespace warren
