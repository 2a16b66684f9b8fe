#include "runtime/metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace warren::metrics {
namespace {

void atomicAdd(std::atomic<double>& target, double by) {
  double current = target.load();
  while (!target.compare_exchange_weak(current, current + by)) {
  }
}

std::string formatNumber(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<long long>(value));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", value);
  return buf;
}

std::string escapeLabel(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string labelSet(const std::vector<std::string>& names, const LabelValues& values,
                     const std::string& extra_name = {}, const std::string& extra_value = {}) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    out += out.empty() ? "{" : ",";
    out += names[i] + "=\"" + escapeLabel(values[i]) + "\"";
  }
  if (!extra_name.empty()) {
    out += out.empty() ? "{" : ",";
    out += extra_name + "=\"" + extra_value + "\"";
  }
  if (!out.empty()) out += "}";
  return out;
}

template <typename Metric>
void header(std::ostringstream& out, const Family<Metric>& family, const char* type) {
  out << "# HELP " << family.name() << " " << family.help() << "\n";
  out << "# TYPE " << family.name() << " " << type << "\n";
}

}  // namespace

void Counter::inc(double by) { atomicAdd(value_, by); }
void Gauge::inc(double by) { atomicAdd(value_, by); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  const auto bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  std::lock_guard<std::mutex> lock(mutex_);
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

Histogram::Snapshot Histogram::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Snapshot snap;
  snap.bounds = bounds_;
  unsigned long long running = 0;
  for (auto c : counts_) {
    running += c;
    snap.cumulative.push_back(running);
  }
  snap.sum = sum_;
  snap.count = count_;
  return snap;
}

template <>
Counter& Family<Counter>::with(const LabelValues& values) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = series_[values];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

template <>
Gauge& Family<Gauge>::with(const LabelValues& values) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = series_[values];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

template <>
Histogram& Family<Histogram>::with(const LabelValues& values) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = series_[values];
  if (!slot) slot = std::make_unique<Histogram>(bounds_);
  return *slot;
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   std::vector<std::string> labels) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& f : counters_) {
    if (f->name() == name) return *f;
  }
  counters_.push_back(std::make_unique<Family<Counter>>(name, help, std::move(labels)));
  order_.emplace_back(Type::kCounter, counters_.size() - 1);
  return *counters_.back();
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               std::vector<std::string> labels) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& f : gauges_) {
    if (f->name() == name) return *f;
  }
  gauges_.push_back(std::make_unique<Family<Gauge>>(name, help, std::move(labels)));
  order_.emplace_back(Type::kGauge, gauges_.size() - 1);
  return *gauges_.back();
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<std::string> labels,
                                       std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& f : histograms_) {
    if (f->name() == name) return *f;
  }
  histograms_.push_back(
      std::make_unique<Family<Histogram>>(name, help, std::move(labels), std::move(bounds)));
  order_.emplace_back(Type::kHistogram, histograms_.size() - 1);
  return *histograms_.back();
}

int Registry::addScrapeHook(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(hooks_mutex_);
  hooks_[next_hook_] = std::move(hook);
  return next_hook_++;
}

void Registry::removeScrapeHook(int id) {
  std::lock_guard<std::mutex> lock(hooks_mutex_);
  hooks_.erase(id);
}

void updateProcessMetrics() {
  auto& r = registry();
  // /proc/self/stat: utime and stime are fields 14 and 15, starttime 22 (after the parenthesised name).
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  if (close != std::string::npos) {
    std::istringstream fields(stat.substr(close + 2));
    std::vector<std::string> f((std::istream_iterator<std::string>(fields)), std::istream_iterator<std::string>());
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    if (f.size() > 19 && ticks > 0) {
      r.counter("process_cpu_seconds_total", "User and system CPU time spent, in seconds.")
          .get()
          .mirror((std::stod(f[11]) + std::stod(f[12])) / ticks);
      std::ifstream proc_stat("/proc/stat");
      for (std::string line; std::getline(proc_stat, line);) {
        if (line.rfind("btime ", 0) == 0) {
          r.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds.")
              .get()
              .set(std::stod(line.substr(6)) + std::stod(f[19]) / ticks);
        }
      }
    }
  }
  std::ifstream statm("/proc/self/statm");
  long long size = 0, resident = 0;
  if (statm >> size >> resident) {
    r.gauge("process_resident_memory_bytes", "Resident memory size in bytes.")
        .get()
        .set(static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)));
    r.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.")
        .get()
        .set(static_cast<double>(size) * static_cast<double>(sysconf(_SC_PAGESIZE)));
  }
  std::error_code error;
  double fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++fds;
  }
  r.gauge("process_open_fds", "Number of open file descriptors.").get().set(fds);
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    r.gauge("process_max_fds", "Maximum number of open file descriptors.").get().set(static_cast<double>(limit.rlim_cur));
  }
}

std::string Registry::render() const {
  {
    // Run under the hooks' lock, so removeScrapeHook() waits for a running hook (its owner may be going away).
    std::lock_guard<std::mutex> lock(hooks_mutex_);
    for (const auto& [id, hook] : hooks_) hook();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  std::ostringstream out;
  for (const auto& [type, index] : order_) {
    switch (type) {
      case Type::kCounter: {
        const auto& family = *counters_[index];
        header(out, family, "counter");
        family.forEach([&](const LabelValues& values, const Counter& c) {
          out << family.name() << labelSet(family.labelNames(), values) << " "
              << formatNumber(c.value()) << "\n";
        });
        break;
      }
      case Type::kGauge: {
        const auto& family = *gauges_[index];
        header(out, family, "gauge");
        family.forEach([&](const LabelValues& values, const Gauge& g) {
          out << family.name() << labelSet(family.labelNames(), values) << " "
              << formatNumber(g.value()) << "\n";
        });
        break;
      }
      case Type::kHistogram: {
        const auto& family = *histograms_[index];
        header(out, family, "histogram");
        family.forEach([&](const LabelValues& values, const Histogram& h) {
          const auto snap = h.snapshot();
          for (size_t i = 0; i <= snap.bounds.size(); ++i) {
            const std::string le = i < snap.bounds.size() ? formatNumber(snap.bounds[i]) : "+Inf";
            out << family.name() << "_bucket" << labelSet(family.labelNames(), values, "le", le)
                << " " << snap.cumulative[i] << "\n";
          }
          out << family.name() << "_sum" << labelSet(family.labelNames(), values) << " "
              << formatNumber(snap.sum) << "\n";
          out << family.name() << "_count" << labelSet(family.labelNames(), values) << " "
              << snap.count << "\n";
        });
        break;
      }
    }
  }
  return out.str();
}

Registry& registry() {
  static Registry instance;
  return instance;
}

std::vector<double> latencyBuckets() {
  return {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

}  // namespace warren::metrics
