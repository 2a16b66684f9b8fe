// A small Prometheus metrics registry: counters, gauges and histograms with
// labels, rendered in the text exposition format for /metrics. Updates take
// a short per-family lock; rendering never blocks an update for long.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace warren::metrics {

using LabelValues = std::vector<std::string>;

class Counter {
 public:
  void inc(double by = 1.0);
  // For counters kept elsewhere and mirrored at scrape time (process CPU).
  void mirror(double total) { value_.store(total); }
  double value() const { return value_.load(); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double value) { value_.store(value); }
  void inc(double by = 1.0);
  void dec(double by = 1.0) { inc(-by); }
  double value() const { return value_.load(); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<unsigned long long> cumulative;  // per bound, then +Inf
    double sum = 0;
    unsigned long long count = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<unsigned long long> counts_;  // per bucket, last is +Inf
  double sum_ = 0;
  unsigned long long count_ = 0;
};

enum class Type { kCounter, kGauge, kHistogram };

// All series of one metric name.
template <typename Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds = {})
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)),
        bounds_(std::move(bounds)) {}

  // The series for these label values (created on first use). The returned
  // reference stays valid for the registry's lifetime.
  Metric& with(const LabelValues& values);
  Metric& get() { return with({}); }
  // Drops the series (of an object that is gone); a reference from with()
  // for it must not be used afterwards.
  void remove(const LabelValues& values) {
    std::lock_guard<std::mutex> lock(mutex_);
    series_.erase(values);
  }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& labelNames() const { return label_names_; }
  template <typename Fn>
  void forEach(Fn&& fn) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [values, metric] : series_) fn(values, *metric);
  }

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::map<LabelValues, std::unique_ptr<Metric>> series_;
};

class Registry {
 public:
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> labels = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       std::vector<std::string> labels = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<std::string> labels, std::vector<double> bounds);
  // Prometheus text format, families in registration order; runs the
  // scrape hooks first.
  std::string render() const;
  // A hook run before every render (for values computed on demand: process
  // figures, in-flight work). Returns an id for removeScrapeHook(), which
  // waits for the hook if it is running. Hooks must not render.
  int addScrapeHook(std::function<void()> hook);
  void removeScrapeHook(int id);

 private:
  mutable std::mutex hooks_mutex_;
  std::map<int, std::function<void()>> hooks_;
  int next_hook_ = 0;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Family<Counter>>> counters_;
  std::vector<std::unique_ptr<Family<Gauge>>> gauges_;
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_;
  std::vector<std::pair<Type, size_t>> order_;
};

// The process-wide registry that /metrics serves.
Registry& registry();

// Updates the process_* metrics (CPU seconds, resident memory, open and
// maximum file descriptors, start time) from /proc; registered as a scrape
// hook by the manager.
void updateProcessMetrics();

// Bucket bounds in seconds for request and reconcile latencies.
std::vector<double> latencyBuckets();

}  // namespace warren::metrics
