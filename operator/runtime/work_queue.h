// WorkQueue: the controller work queue with client-go semantics. A key is
// queued at most once; a key being processed is never handed to a second
// worker, and if it is added meanwhile it is processed again after done();
// keys can be added after a delay or after their retry backoff. shutDown()
// stops at once: queued and delayed keys are dropped and get() hands out
// nothing more (reconciles are level-based, so whoever runs next starts
// from a fresh list); only reconciles already running finish.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "runtime/rate_limiters.h"

namespace warren::runtime {

class WorkQueue {
 public:
  using clock = std::chrono::steady_clock;

  // `name` labels the queue's metrics; an empty name records none.
  WorkQueue(std::string name, std::unique_ptr<RetryRateLimiter> limiter);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void add(const std::string& key);
  void addAfter(const std::string& key, clock::duration delay);
  // Adds after the key's retry backoff.
  void addRateLimited(const std::string& key);
  // Resets the key's retry backoff (after a success).
  void forget(const std::string& key);
  int numRequeues(const std::string& key);

  // Blocks for the next key; nullopt once shut down and empty.
  std::optional<std::string> get();
  // Marks `key` (from get()) finished.
  void done(const std::string& key);

  // Stops handing out keys and drops the queued and delayed ones.
  void shutDown();
  // shutDown(), then waits until no key is being processed or `timeout`.
  bool shutDownWithDrain(std::chrono::milliseconds timeout);
  bool shuttingDown() const;

  size_t length() const;
  // Nothing queued and nothing being processed (delayed adds not counted).
  bool idle() const;
  size_t waitingCount() const;  // delayed adds not yet due

 private:
  void addLocked(const std::string& key);
  void delayLoop();

  const std::string name_;
  std::unique_ptr<RetryRateLimiter> limiter_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;       // a key is queued, or shutdown
  std::condition_variable idle_;        // processing set shrank
  std::condition_variable delayed_;     // the delayed heap changed
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;
  std::unordered_set<std::string> processing_;
  std::unordered_map<std::string, clock::time_point> added_at_;  // for queue latency
  std::unordered_map<std::string, clock::time_point> started_at_;  // for work duration
  int scrape_hook_ = -1;
  std::multimap<clock::time_point, std::string> waiting_;
  std::unordered_map<std::string, clock::time_point> waiting_due_;
  bool shutting_down_ = false;
  std::thread delay_thread_;
};

}  // namespace warren::runtime
