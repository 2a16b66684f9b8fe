#include "app/shutdown.h"

#include <csignal>
#include <pthread.h>

#include "common/log.h"

namespace warren::app {

ShutdownSignal& ShutdownSignal::instance() {
  // Never destroyed: threads that wait on it (the signal thread, main's relay) may still be waiting when the
  // process exits without a signal (leadership lost), and destroying a condition variable with waiters hangs.
  static ShutdownSignal* signal = new ShutdownSignal;
  return *signal;
}

void ShutdownSignal::install() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  waiter_ = std::thread([this, set] {
    int received = 0;
    if (sigwait(&set, &received) == 0) {
      log::info("shutdown requested", {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"}});
      request();
    }
  });
  waiter_.detach();
}

bool ShutdownSignal::waitFor(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, timeout, [this] { return requested_; });
}

bool ShutdownSignal::requested() {
  std::lock_guard<std::mutex> lock(mutex_);
  return requested_;
}

void ShutdownSignal::request() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    requested_ = true;
  }
  changed_.notify_all();
}

}  // namespace warren::app
