#include "common/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include <nlohmann/json.hpp>

namespace warren::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<Format> g_format{Format::kText};
std::mutex g_write_mutex;

const char* levelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

std::string nowRfc3339() {
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

bool needsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') return true;
  }
  return false;
}

}  // namespace

Field::Field(std::string_view k, double v) : key(k), quoted(false) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  value = buf;
}

void configure(Level level, Format format) {
  g_level = level;
  g_format = format;
}

std::optional<Level> parseLevel(std::string_view name) {
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn" || name == "warning") return Level::kWarn;
  if (name == "error") return Level::kError;
  return std::nullopt;
}

std::optional<Format> parseFormat(std::string_view name) {
  if (name == "text") return Format::kText;
  if (name == "json") return Format::kJson;
  return std::nullopt;
}

bool enabled(Level level) { return level >= g_level.load(); }

std::string render(Format format, Level level, std::string_view timestamp,
                   std::string_view message, Fields fields) {
  if (format == Format::kJson) {
    nlohmann::ordered_json record;
    record["ts"] = timestamp;
    record["level"] = levelName(level);
    record["msg"] = message;
    for (const auto& f : fields) {
      if (f.quoted) {
        record[f.key] = f.value;
      } else {
        record[f.key] = nlohmann::json::parse(f.value, nullptr, /*allow_exceptions=*/false);
      }
    }
    return record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string line;
  line.append(timestamp).append(" ").append(levelName(level)).append(" ").append(message);
  for (const auto& f : fields) {
    line.append(" ").append(f.key).append("=");
    if (f.quoted && needsQuotes(f.value)) {
      line.append(nlohmann::json(f.value).dump(-1, ' ', false,
                                               nlohmann::json::error_handler_t::replace));
    } else {
      line.append(f.value);
    }
  }
  return line;
}

void write(Level level, std::string_view message, Fields fields) {
  if (!enabled(level)) return;
  std::string line = render(g_format.load(), level, nowRfc3339(), message, fields);
  line.push_back('\n');
  std::lock_guard<std::mutex> lock(g_write_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace warren::log
