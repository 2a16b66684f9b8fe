// warren-counting-service: publishes the time-based count every interval.
// The count is floor((now - startTime) / interval), so it carries on across
// restarts and failovers instead of starting again at zero.
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "counting/program.h"
#include "runtime/object_helpers.h"

int main(int argc, char** argv) {
  using namespace warren::counting;
  return runProgram(
      "warren-counting-service", argc, argv, [](const CountingConfig&, BrokerLink&) {},
      [](const CountingConfig& config, BrokerLink& link) {
        const auto now = std::chrono::system_clock::now();
        const long long count = countAt(config, now);
        link.publish(nlohmann::json{{"count", count}, {"at", warren::runtime::formatTime(now)}}.dump());
        warren::log::debug("published", {warren::log::Field("count", count)});
      });
}
