// Structured, leveled logging to stderr as text or JSON lines.
//
// Callers pass key/value fields; values are written as given, so never pass
// Secret data, tokens or request bodies — the logger cannot know what is
// sensitive. Thread-safe: each record is written with one call.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace warren::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kText, kJson };

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, long long v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, int v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, double v);
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), quoted(false) {}
  std::string key;
  std::string value;
  bool quoted = true;
};
using Fields = std::initializer_list<Field>;

void configure(Level level, Format format);
std::optional<Level> parseLevel(std::string_view name);
std::optional<Format> parseFormat(std::string_view name);
bool enabled(Level level);

void write(Level level, std::string_view message, Fields fields = {});
inline void debug(std::string_view m, Fields f = {}) { write(Level::kDebug, m, f); }
inline void info(std::string_view m, Fields f = {}) { write(Level::kInfo, m, f); }
inline void warn(std::string_view m, Fields f = {}) { write(Level::kWarn, m, f); }
inline void error(std::string_view m, Fields f = {}) { write(Level::kError, m, f); }

// Renders one record without writing it (used by write() and by tests).
std::string render(Format format, Level level, std::string_view timestamp,
                   std::string_view message, Fields fields);

}  // namespace warren::log
