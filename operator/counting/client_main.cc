// warren-counting-client: subscribes to the counting service's topic and
// records every count it receives (one per line in recordFile), warning when
// a count goes backwards (the counter would have been reset).
#include <fstream>
#include <mutex>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "counting/program.h"

int main(int argc, char** argv) {
  using namespace warren::counting;
  std::mutex mutex;
  long long last = -1;
  std::ofstream record;
  return runProgram(
      "warren-counting-client", argc, argv,
      [&](const CountingConfig& config, BrokerLink& link) {
        if (!config.record_file.empty()) record.open(config.record_file, std::ios::app);
        link.subscribe([&](const std::string& payload) {
          const auto message = nlohmann::json::parse(payload, nullptr, false);
          if (!message.is_object() || !message.contains("count") || !message["count"].is_number_integer()) {
            warren::log::warn("ignoring a message that is not a count");
            return;
          }
          const long long count = message["count"].get<long long>();
          std::lock_guard<std::mutex> lock(mutex);
          if (count < last) {
            warren::log::warn("count went backwards", {warren::log::Field("count", count), warren::log::Field("previous", last)});
          }
          last = count;
          if (record.is_open()) {
            record << count << "\n";
            record.flush();
          }
          warren::log::info("received", {warren::log::Field("count", count)});
        });
      },
      [](const CountingConfig&, BrokerLink&) {});
}
