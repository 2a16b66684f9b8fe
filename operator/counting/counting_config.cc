#include "counting/counting_config.h"

#include <nlohmann/json.hpp>

#include "kube/tls_material.h"
#include "kube/token_source.h"

namespace warren::counting {
namespace {

Error invalid(const std::string& field, const std::string& what) {
  return Error::local("InvalidConfig", field + ": " + what);
}

}  // namespace

Result<CountingConfig> parseCountingConfig(const std::string& json_text) {
  const auto json = nlohmann::json::parse(json_text, nullptr, false);
  if (!json.is_object()) return invalid("(file)", "not a JSON object");
  CountingConfig config;
  try {
    const auto broker = json.value("broker", nlohmann::json::object());
    config.protocol = broker.value("protocol", config.protocol);
    if (config.protocol != kMqtt && config.protocol != kAmqp) return invalid("broker.protocol", "must be mqtt or amqp");
    config.host = broker.value("host", "");
    config.port = broker.value("port", config.protocol == kAmqp ? 5672 : 1883);
    config.vhost = broker.value("vhost", config.vhost);
    config.username = broker.value("username", "");
    config.password = broker.value("password", "");
    config.topic = json.value("topic", config.topic);
    const double interval = json.value("intervalSeconds", 1.0);
    if (interval <= 0) return invalid("intervalSeconds", "must be positive");
    config.interval = std::chrono::milliseconds(static_cast<long long>(interval * 1000));
    const auto start = kube::parseRfc3339(json.value("startTime", ""));
    if (!start) return invalid("startTime", "must be an RFC 3339 time");
    config.start_time = *start;
    config.health_address = json.value("healthAddress", config.health_address);
    config.buffer_size = json.value("bufferSize", config.buffer_size);
    config.record_file = json.value("recordFile", "");
  } catch (const nlohmann::json::exception& e) {
    return invalid("(file)", std::string("wrong type: ") + e.what());
  }
  if (config.host.empty()) return invalid("broker.host", "is required");
  if (config.port < 1 || config.port > 65535) return invalid("broker.port", "must be between 1 and 65535");
  if (config.buffer_size == 0) return invalid("bufferSize", "must be at least 1");
  return config;
}

Result<CountingConfig> loadCountingConfig(const std::string& path) {
  auto text = kube::readFile(path);
  if (!text) return Error::local("InvalidConfig", "cannot read " + path);
  auto config = parseCountingConfig(*text);
  if (!config) return Error::local("InvalidConfig", path + ": " + config.error().message);
  return config;
}

long long countAt(const CountingConfig& config, std::chrono::system_clock::time_point now) {
  if (now < config.start_time) return 0;
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - config.start_time).count() / config.interval.count();
}

}  // namespace warren::counting
