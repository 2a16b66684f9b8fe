// Result<T>: a value or an Error, returned across every layer of warren so
// that failures are values, never exceptions. Error carries the Kubernetes
// API status (HTTP code, metav1.Status reason and message) when there is one.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace warren {

// Why an operation failed. `http_status` is 0 when the failure happened
// before an HTTP response existed (connection refused, bad config, ...).
struct Error {
  int http_status = 0;
  // metav1.Status reason ("NotFound", "Conflict", ...) or a local reason
  // ("TransportError", "InvalidConfig", "Cancelled", ...).
  std::string reason;
  std::string message;
  // Retrying cannot help (a controller reports it and does not requeue).
  bool terminal = false;

  static Error local(std::string reason, std::string message) {
    return Error{0, std::move(reason), std::move(message)};
  }
  static Error terminalError(std::string reason, std::string message) {
    Error error{0, std::move(reason), std::move(message)};
    error.terminal = true;
    return error;
  }

  bool isNotFound() const { return reason == "NotFound" || http_status == 404; }
  bool isAlreadyExists() const { return reason == "AlreadyExists"; }
  // 409 without AlreadyExists: optimistic-concurrency or apply conflict.
  bool isConflict() const { return http_status == 409 && reason != "AlreadyExists"; }
  bool isGone() const { return http_status == 410 || reason == "Expired" || reason == "Gone"; }
  bool isInvalid() const { return reason == "Invalid" || http_status == 422; }
  // The server refused what was sent, so sending it again cannot help: Invalid, BadRequest, or a
  // server-side apply whose content does not fit the type's schema (which the API server answers
  // with 500 "failed to create typed patch object").
  bool isRejectedContent() const {
    return isInvalid() || http_status == 400 ||
           (http_status == 500 && message.find("failed to create typed patch object") != std::string::npos);
  }
  bool isForbidden() const { return reason == "Forbidden" || http_status == 403; }
  bool isUnauthorized() const { return reason == "Unauthorized" || http_status == 401; }
  // warren refused to write an object it does not own (see runtime/object_helpers.h).
  bool isNotOwned() const { return reason == "NotOwned"; }
  bool isTooManyRequests() const { return http_status == 429; }
  // Worth retrying later: the server or the connection failed, not the request.
  bool isTransient() const {
    return http_status == 0 || http_status == 429 || http_status >= 500;
  }

  // "404 NotFound: configmaps \"x\" not found" — for logs and conditions.
  std::string describe() const;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}        // NOLINT(google-explicit-constructor)

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  const T& value() const& { assert(ok()); return std::get<0>(state_); }
  T& value() & { assert(ok()); return std::get<0>(state_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(state_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

// Result of an operation that yields nothing but success.
struct Ok {};
using Status = Result<Ok>;
inline Status okStatus() { return Ok{}; }

}  // namespace warren
