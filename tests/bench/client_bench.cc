// Decoding costs on the client's hot paths: a 1000-object list response and
// watch event lines.
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>

#include "kube/watch_event.h"

namespace {

nlohmann::json configMap(int i) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata",
           {{"name", "cm-" + std::to_string(i)},
            {"namespace", "bench"},
            {"uid", "3f0e1c2a-0000-4000-8000-" + std::to_string(100000000000 + i)},
            {"resourceVersion", std::to_string(1000 + i)},
            {"creationTimestamp", "2026-11-23T10:00:00Z"},
            {"labels", {{"app", "warren"}, {"index", std::to_string(i)}}}}},
          {"data", {{"rabbitmq.conf", std::string(400, 'x')}, {"enabled_plugins", "[rabbitmq_management]."}}}};
}

void BM_DecodeList1000(benchmark::State& state) {
  nlohmann::json list = {{"apiVersion", "v1"}, {"kind", "ConfigMapList"},
                         {"metadata", {{"resourceVersion", "5000"}}}, {"items", nlohmann::json::array()}};
  for (int i = 0; i < 1000; ++i) list["items"].push_back(configMap(i));
  const std::string body = list.dump();
  size_t names = 0;
  for (auto _ : state) {
    auto parsed = nlohmann::json::parse(body);
    for (const auto& item : parsed["items"]) names += item["metadata"]["name"].get_ref<const std::string&>().size();
    benchmark::DoNotOptimize(names);
  }
  state.SetItemsProcessed(state.iterations() * 1000);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_DecodeList1000)->Unit(benchmark::kMillisecond);

void BM_ParseWatchLine(benchmark::State& state) {
  const std::string line = nlohmann::json{{"type", "MODIFIED"}, {"object", configMap(7)}}.dump();
  for (auto _ : state) {
    auto event = warren::kube::parseWatchEvent(line);
    benchmark::DoNotOptimize(event.ok());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(line.size()));
}
BENCHMARK(BM_ParseWatchLine);

}  // namespace

