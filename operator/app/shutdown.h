// Turns SIGTERM and SIGINT into a shutdown request that threads can wait on.
// install() must run first in main(), before any thread starts, so that the
// signals are blocked everywhere and delivered only to the waiting thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace warren::app {

class ShutdownSignal {
 public:
  static ShutdownSignal& instance();
  void install();
  // Waits up to `timeout`; true when shutdown was requested.
  bool waitFor(std::chrono::milliseconds timeout);
  bool requested();
  void request();

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool requested_ = false;
  std::thread waiter_;
};

}  // namespace warren::app
