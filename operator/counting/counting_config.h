// The configuration file of the counting service and client (rendered by
// warren for a CountingService, or written by hand), and the time-based
// count they agree on: floor((now - startTime) / interval), so the count
// continues across restarts and failovers, as seed 000's counter does.
#pragma once

#include <chrono>
#include <string>

#include "common/result.h"

namespace warren::counting {

inline constexpr const char* kMqtt = "mqtt";
inline constexpr const char* kAmqp = "amqp";

struct CountingConfig {
  std::string protocol = kMqtt;  // "mqtt" or "amqp"
  std::string host;
  int port = 1883;               // defaults to 5672 for amqp
  std::string vhost = "/";       // amqp only
  std::string username;
  std::string password;
  std::string topic = "warren/counting";
  std::chrono::milliseconds interval{1000};
  std::chrono::system_clock::time_point start_time;
  std::string health_address = ":8081";
  size_t buffer_size = 100;    // outgoing messages kept while disconnected
  std::string record_file;     // client: where received counts are appended
};

// Error reason "InvalidConfig" naming the field.
Result<CountingConfig> parseCountingConfig(const std::string& json_text);
Result<CountingConfig> loadCountingConfig(const std::string& path);

long long countAt(const CountingConfig& config, std::chrono::system_clock::time_point now);

}  // namespace warren::counting
