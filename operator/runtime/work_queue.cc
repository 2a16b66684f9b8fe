#include "runtime/work_queue.h"

#include <algorithm>

#include "runtime/metrics.h"

namespace warren::runtime {
namespace {

struct QueueMetrics {
  metrics::Family<metrics::Gauge>& depth = metrics::registry().gauge(
      "workqueue_depth", "Current depth of the work queue.", {"name"});
  metrics::Family<metrics::Counter>& adds = metrics::registry().counter(
      "workqueue_adds_total", "Keys added to the work queue.", {"name"});
  metrics::Family<metrics::Counter>& retries = metrics::registry().counter(
      "workqueue_retries_total", "Rate-limited re-adds to the work queue.", {"name"});
  metrics::Family<metrics::Histogram>& latency = metrics::registry().histogram(
      "workqueue_queue_duration_seconds", "Time a key waits in the queue before processing.",
      {"name"}, metrics::latencyBuckets());
  metrics::Family<metrics::Histogram>& work = metrics::registry().histogram(
      "workqueue_work_duration_seconds", "Time processing a key takes (get to done).", {"name"},
      metrics::latencyBuckets());
  metrics::Family<metrics::Gauge>& unfinished = metrics::registry().gauge(
      "workqueue_unfinished_work_seconds",
      "Seconds of work in progress not yet observed by work_duration; large values mean stuck reconciles.", {"name"});
  metrics::Family<metrics::Gauge>& longest = metrics::registry().gauge(
      "workqueue_longest_running_processor_seconds", "How long the longest running reconcile has been running.",
      {"name"});
};

QueueMetrics& queueMetrics() {
  static QueueMetrics instance;
  return instance;
}

}  // namespace

WorkQueue::WorkQueue(std::string name, std::unique_ptr<RetryRateLimiter> limiter)
    : name_(std::move(name)), limiter_(std::move(limiter)) {
  delay_thread_ = std::thread([this] { delayLoop(); });
  if (!name_.empty()) {
    // In-flight work is measured when scraped, not on a timer.
    scrape_hook_ = metrics::registry().addScrapeHook([this] {
      std::lock_guard<std::mutex> lock(mutex_);
      const auto now = clock::now();
      double total = 0, longest = 0;
      for (const auto& [key, started] : started_at_) {
        const double seconds = std::chrono::duration<double>(now - started).count();
        total += seconds;
        longest = std::max(longest, seconds);
      }
      queueMetrics().unfinished.with({name_}).set(total);
      queueMetrics().longest.with({name_}).set(longest);
    });
  }
}

WorkQueue::~WorkQueue() {
  if (scrape_hook_ >= 0) metrics::registry().removeScrapeHook(scrape_hook_);
  shutDown();
  if (delay_thread_.joinable()) delay_thread_.join();
}

void WorkQueue::addLocked(const std::string& key) {
  if (shutting_down_) return;
  if (!dirty_.insert(key).second) return;
  if (!name_.empty()) queueMetrics().adds.with({name_}).inc();
  added_at_.try_emplace(key, clock::now());
  if (processing_.count(key) != 0) return;  // re-queued by done()
  queue_.push_back(key);
  if (!name_.empty()) queueMetrics().depth.with({name_}).set(static_cast<double>(queue_.size()));
  ready_.notify_one();
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  addLocked(key);
}

void WorkQueue::addAfter(const std::string& key, clock::duration delay) {
  if (delay <= clock::duration::zero()) {
    add(key);
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (shutting_down_) return;
  const auto due = clock::now() + delay;
  // Keep only the earliest due time per key.
  if (auto it = waiting_due_.find(key); it != waiting_due_.end()) {
    if (it->second <= due) return;
    for (auto w = waiting_.lower_bound(it->second); w != waiting_.end() && w->first == it->second; ++w) {
      if (w->second == key) {
        waiting_.erase(w);
        break;
      }
    }
  }
  waiting_due_[key] = due;
  waiting_.emplace(due, key);
  delayed_.notify_one();
}

void WorkQueue::addRateLimited(const std::string& key) {
  if (!name_.empty()) queueMetrics().retries.with({name_}).inc();
  addAfter(key, limiter_->when(key));
}

void WorkQueue::forget(const std::string& key) { limiter_->forget(key); }
int WorkQueue::numRequeues(const std::string& key) { return limiter_->retries(key); }

std::optional<std::string> WorkQueue::get() {
  std::unique_lock<std::mutex> lock(mutex_);
  ready_.wait(lock, [this] { return !queue_.empty() || shutting_down_; });
  if (queue_.empty()) return std::nullopt;
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(key);
  started_at_[key] = clock::now();
  dirty_.erase(key);
  if (!name_.empty()) {
    queueMetrics().depth.with({name_}).set(static_cast<double>(queue_.size()));
    if (auto it = added_at_.find(key); it != added_at_.end()) {
      queueMetrics().latency.with({name_}).observe(
          std::chrono::duration<double>(clock::now() - it->second).count());
    }
  }
  added_at_.erase(key);
  return key;
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  processing_.erase(key);
  if (auto it = started_at_.find(key); it != started_at_.end()) {
    if (!name_.empty()) {
      queueMetrics().work.with({name_}).observe(std::chrono::duration<double>(clock::now() - it->second).count());
    }
    started_at_.erase(it);
  }
  if (dirty_.count(key) != 0) {
    queue_.push_back(key);
    ready_.notify_one();
  }
  idle_.notify_all();
}

void WorkQueue::shutDown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shutting_down_ = true;
    queue_.clear();
    dirty_.clear();
    added_at_.clear();
    waiting_.clear();
    waiting_due_.clear();
  }
  ready_.notify_all();
  delayed_.notify_all();
}

bool WorkQueue::shutDownWithDrain(std::chrono::milliseconds timeout) {
  shutDown();
  std::unique_lock<std::mutex> lock(mutex_);
  return idle_.wait_for(lock, timeout, [this] { return processing_.empty(); });
}

bool WorkQueue::shuttingDown() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return shutting_down_;
}

bool WorkQueue::idle() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.empty() && processing_.empty();
}

size_t WorkQueue::length() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

size_t WorkQueue::waitingCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return waiting_.size();
}

void WorkQueue::delayLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!shutting_down_) {
    if (waiting_.empty()) {
      delayed_.wait(lock);
      continue;
    }
    const auto due = waiting_.begin()->first;
    if (clock::now() < due) {
      delayed_.wait_until(lock, due);
      continue;
    }
    std::string key = waiting_.begin()->second;
    waiting_.erase(waiting_.begin());
    waiting_due_.erase(key);
    addLocked(key);
  }
}

}  // namespace warren::runtime
