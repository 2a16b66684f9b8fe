// The messages of the offload pipeline (claim check), version 1, as JSON so
// that any language can produce and consume them; docs/offload-pointer-v1.md
// and docs/offload-pointer-v1.schema.json describe them.
//
// A Pointer says where a payload is (or carries it inline when small), what
// its stored bytes hash to, and who must confirm it: the recipient set, so
// the coordinator knows when every recipient has confirmed and the object may
// be deleted. An Ack is a recipient's business acknowledgement (or, with
// ok=false, its refusal: a checksum mismatch, a missing object).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace warren::offload {

inline constexpr int kFormatVersion = 1;
inline constexpr const char* kPointerContentType = "application/vnd.warren.offload.pointer.v1+json";
inline constexpr const char* kAckContentType = "application/vnd.warren.offload.ack.v1+json";

using TimePoint = std::chrono::system_clock::time_point;

struct Pointer {
  std::string message_id;  // unique per payload; also the idempotency key
  std::string producer;
  // Where the stored bytes are; bucket and key are empty when inline.
  std::string bucket;
  std::string key;
  bool is_inline = false;
  std::string inline_data;  // the stored bytes when inline (base64 on the wire)
  uint64_t size = 0;        // of the stored bytes
  std::string sha256;       // lowercase hex, of the stored bytes
  std::string content_type = "application/octet-stream";
  std::string compression = "none";  // "none" or "gzip": how the stored bytes encode the payload
  std::vector<std::string> recipients;  // sorted, unique, non-empty
  TimePoint created_at{};
  std::optional<TimePoint> expires_at;

  size_t recipientsTotal() const { return recipients.size(); }
};

struct Ack {
  std::string message_id;
  std::string recipient;
  bool ok = true;
  bool sha256_verified = false;
  std::string detail;  // why, when ok is false
  TimePoint acked_at{};
};

std::string toJson(const Pointer& pointer);
std::string toJson(const Ack& ack);
// Strict parsing: an error (reason "InvalidMessage") names the field.
Result<Pointer> parsePointer(const std::string& json_text);
Result<Ack> parseAck(const std::string& json_text);

// RFC 3339 with microseconds, UTC ("2026-12-02T10:00:00.123456Z"), and back.
std::string formatTime(TimePoint time);
std::optional<TimePoint> parseTime(const std::string& text);

// A name usable as a recipient: 1-63 characters of [a-z0-9-], starting and
// ending alphanumeric (a DNS label, so it can name a queue and a Kubernetes object).
bool validRecipientName(const std::string& name);

}  // namespace warren::offload
