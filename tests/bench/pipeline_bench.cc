// The runtime's hot path in process: a watch line is decoded, applied to the
// informer's store, and its key handed to the work queue.
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>

#include "kube/watch_event.h"
#include "runtime/informer.h"
#include "runtime/work_queue.h"

namespace {

void BM_WatchToCacheToQueue(benchmark::State& state) {
  warren::runtime::Informer informer(nullptr, {warren::kube::resources::configMaps(), "", "", ""});
  warren::runtime::WorkQueue queue("", warren::runtime::defaultRetryLimiter());
  informer.addHandler({[&](const warren::runtime::ObjectPtr& o) { queue.add(warren::runtime::objectKey(*o)); },
                       [&](const warren::runtime::ObjectPtr&, const warren::runtime::ObjectPtr& o) {
                         queue.add(warren::runtime::objectKey(*o));
                       },
                       {}});
  std::vector<std::string> lines;
  for (int i = 0; i < 1000; ++i) {
    lines.push_back(nlohmann::json{
        {"type", "MODIFIED"},
        {"object", {{"apiVersion", "v1"}, {"kind", "ConfigMap"},
                    {"metadata", {{"name", "cm-" + std::to_string(i)}, {"namespace", "bench"},
                                  {"resourceVersion", std::to_string(i)},
                                  {"managedFields", {{{"manager", "kubectl"}, {"operation", "Apply"}}}}}},
                    {"data", {{"key", std::string(200, 'x')}}}}}}.dump());
  }
  size_t i = 0;
  for (auto _ : state) {
    auto event = warren::kube::parseWatchEvent(lines[i++ % lines.size()]);
    informer.apply({warren::runtime::WatcherEvent::Type::kApply, std::move(event->object)});
    if (queue.length() >= 1000) {
      state.PauseTiming();
      while (queue.length() > 0) queue.done(*queue.get());
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WatchToCacheToQueue);

}  // namespace
