#include "offload/pointer.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <set>

#include <nlohmann/json.hpp>

#include "api/field_reader.h"
#include "api/offload_pipeline.h"
#include "kube/tls_material.h"

namespace warren::offload {
namespace {

using json = nlohmann::json;

bool isLowerHex(const std::string& s, size_t length) {
  return s.size() == length && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Printable ASCII without spaces, 1-256 characters: safe in an S3 key, a
// header and a log line.
bool validMessageId(const std::string& id) {
  return !id.empty() && id.size() <= 256 &&
         std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 127; });
}

Result<json> parseObject(const std::string& json_text) {
  json document = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return Error::terminalError("InvalidMessage", "not JSON");
  if (!document.is_object()) return Error::terminalError("InvalidMessage", "not a JSON object");
  return document;
}

Status checkVersion(api::FieldReader& root) {
  if (!root.has("version")) return Error::terminalError("InvalidMessage", "version: required");
  const json& version = (*root.node())["version"];
  if (!version.is_number_integer()) return Error::terminalError("InvalidMessage", "version: must be an integer");
  if (version.get<long long>() != kFormatVersion) {
    return Error::terminalError("InvalidMessage", "version: " + version.dump() + " is not supported (this reader knows " +
                                                      std::to_string(kFormatVersion) + ")");
  }
  return okStatus();
}

// The FieldReader's InvalidSpec error, as this format's InvalidMessage.
Error asMessageError(const Error& error) { return Error::terminalError("InvalidMessage", error.message); }

std::optional<TimePoint> readTime(api::FieldReader& root, const char* key, bool required) {
  std::string text;
  if (required) {
    root.require(key, text);
  } else {
    root.read(key, text);
  }
  if (!root.ok() || text.empty()) return std::nullopt;
  auto time = parseTime(text);
  if (!time) root.fail(key, "must be an RFC 3339 time such as 2026-12-02T10:00:00Z");
  return time;
}

}  // namespace

bool validRecipientName(const std::string& name) { return api::isDnsLabel(name); }

std::string formatTime(TimePoint time) {
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(micros / 1000000 - (micros % 1000000 < 0 ? 1 : 0));
  const long long fraction = ((micros % 1000000) + 1000000) % 1000000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, fraction);
  return buffer;
}

std::optional<TimePoint> parseTime(const std::string& text) {
  std::tm utc{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &utc.tm_year, &utc.tm_mon, &utc.tm_mday, &utc.tm_hour,
                  &utc.tm_min, &utc.tm_sec, &consumed) != 6 || consumed != 19) {
    return std::nullopt;
  }
  if (utc.tm_mon < 1 || utc.tm_mon > 12 || utc.tm_mday < 1 || utc.tm_mday > 31 || utc.tm_hour > 23 ||
      utc.tm_min > 59 || utc.tm_sec > 60) {
    return std::nullopt;
  }
  utc.tm_year -= 1900;
  utc.tm_mon -= 1;
  size_t at = 19;
  long long micros = 0;
  if (at < text.size() && text[at] == '.') {
    ++at;
    int digits = 0;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      if (digits < 6) micros = micros * 10 + (text[at] - '0');
      ++digits;
      ++at;
    }
    if (digits == 0) return std::nullopt;
    for (int i = std::min(digits, 6); i < 6; ++i) micros *= 10;
  }
  if (at + 1 != text.size() || (text[at] != 'Z' && text[at] != 'z')) return std::nullopt;
  const std::time_t seconds = timegm(&utc);
  return TimePoint(std::chrono::seconds(seconds)) + std::chrono::microseconds(micros);
}

std::string toJson(const Pointer& pointer) {
  json document = {
      {"version", kFormatVersion},
      {"message_id", pointer.message_id},
      {"producer", pointer.producer},
      {"size", pointer.size},
      {"sha256", pointer.sha256},
      {"content_type", pointer.content_type},
      {"compression", pointer.compression},
      {"recipients", pointer.recipients},
      {"recipients_total", pointer.recipients.size()},
      {"created_at", formatTime(pointer.created_at)},
  };
  if (pointer.is_inline) {
    document["inline"] = kube::base64Encode(pointer.inline_data);
  } else {
    document["storage"] = {{"bucket", pointer.bucket}, {"key", pointer.key}};
  }
  if (pointer.expires_at) document["expires_at"] = formatTime(*pointer.expires_at);
  return document.dump();
}

std::string toJson(const Ack& ack) {
  json document = {
      {"version", kFormatVersion},        {"message_id", ack.message_id}, {"recipient", ack.recipient},
      {"ok", ack.ok},                     {"sha256_verified", ack.sha256_verified},
      {"acked_at", formatTime(ack.acked_at)},
  };
  if (!ack.detail.empty()) document["detail"] = ack.detail;
  return document.dump();
}

Result<Pointer> parsePointer(const std::string& json_text) {
  auto document = parseObject(json_text);
  if (!document) return document.error();
  api::FieldReader root(&*document, "");
  if (auto version = checkVersion(root); !version) return version.error();
  Pointer pointer;
  root.require("message_id", pointer.message_id);
  root.require("producer", pointer.producer);
  root.require("sha256", pointer.sha256);
  root.read("content_type", pointer.content_type);
  root.read("compression", pointer.compression);
  root.read("recipients", pointer.recipients);
  if (!root.ok()) return asMessageError(root.status().error());
  if (!validMessageId(pointer.message_id)) root.fail("message_id", "must be 1-256 printable characters, no spaces");
  if (!isLowerHex(pointer.sha256, 64)) root.fail("sha256", "must be 64 lowercase hex digits");
  if (pointer.compression != "none" && pointer.compression != "gzip") root.fail("compression", "must be none or gzip");
  if (!root.has("size") || !(*document)["size"].is_number_unsigned()) {
    root.fail("size", "required, a non-negative integer");
  } else {
    pointer.size = (*document)["size"].get<uint64_t>();
  }
  if (pointer.recipients.empty()) root.fail("recipients", "required, at least one recipient");
  for (const auto& name : pointer.recipients) {
    if (!validRecipientName(name)) root.fail("recipients", "'" + name + "' is not a recipient name ([a-z0-9-], 1-63)");
  }
  std::sort(pointer.recipients.begin(), pointer.recipients.end());
  if (std::adjacent_find(pointer.recipients.begin(), pointer.recipients.end()) != pointer.recipients.end()) {
    root.fail("recipients", "a recipient is listed twice");
  }
  if (root.has("recipients_total")) {
    const json& total = (*document)["recipients_total"];
    if (!total.is_number_unsigned() || total.get<uint64_t>() != pointer.recipients.size()) {
      root.fail("recipients_total", "must equal the number of recipients");
    }
  }
  const bool has_inline = root.has("inline");
  const bool has_storage = root.has("storage");
  if (has_inline == has_storage) root.fail("storage", "exactly one of storage and inline is required");
  if (has_inline) {
    std::string encoded;
    root.read("inline", encoded);
    auto decoded = kube::base64Decode(encoded);
    if (!decoded) {
      root.fail("inline", "must be base64");
    } else {
      pointer.is_inline = true;
      pointer.inline_data = std::move(*decoded);
      if (pointer.inline_data.size() != pointer.size) root.fail("size", "does not match the inline data's length");
    }
  } else if (has_storage) {
    api::FieldReader storage = root.object("storage");
    storage.require("bucket", pointer.bucket);
    storage.require("key", pointer.key);
    if (storage.ok() && (pointer.bucket.empty() || pointer.key.empty())) storage.failHere("bucket and key must not be empty");
  }
  if (auto created = readTime(root, "created_at", true)) pointer.created_at = *created;
  pointer.expires_at = readTime(root, "expires_at", false);
  if (!root.ok()) return asMessageError(root.status().error());
  return pointer;
}

Result<Ack> parseAck(const std::string& json_text) {
  auto document = parseObject(json_text);
  if (!document) return document.error();
  api::FieldReader root(&*document, "");
  if (auto version = checkVersion(root); !version) return version.error();
  Ack ack;
  root.require("message_id", ack.message_id);
  root.require("recipient", ack.recipient);
  root.read("detail", ack.detail);
  root.read("sha256_verified", ack.sha256_verified);
  if (!root.has("ok")) root.fail("ok", "required");
  root.read("ok", ack.ok);
  if (root.ok() && !validMessageId(ack.message_id)) root.fail("message_id", "must be 1-256 printable characters, no spaces");
  if (root.ok() && !validRecipientName(ack.recipient)) root.fail("recipient", "is not a recipient name ([a-z0-9-], 1-63)");
  if (auto acked = readTime(root, "acked_at", true)) ack.acked_at = *acked;
  if (!root.ok()) return asMessageError(root.status().error());
  return ack;
}

}  // namespace warren::offload
