#include "kube/api_error.h"

namespace warren::kube {
namespace {

// Reason the API server would give for a status when the body has none.
std::string reasonForStatus(int status) {
  switch (status) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 406: return "NotAcceptable";
    case 409: return "Conflict";
    case 410: return "Expired";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return "Unknown";
  }
}

}  // namespace

Error decodeStatusObject(const nlohmann::json& status, int fallback_http_status) {
  Error error;
  error.http_status = fallback_http_status;
  if (status.is_object()) {
    if (auto it = status.find("code"); it != status.end() && it->is_number_integer()) {
      error.http_status = it->get<int>();
    }
    if (auto it = status.find("reason"); it != status.end() && it->is_string()) {
      error.reason = it->get<std::string>();
    }
    if (auto it = status.find("message"); it != status.end() && it->is_string()) {
      error.message = it->get<std::string>();
    }
  }
  if (error.reason.empty()) error.reason = reasonForStatus(error.http_status);
  // A generic message ("the server rejected our request due to an error in our request") says what matters
  // only in its causes, e.g. which `test` of a JSON patch failed: keep them.
  const nlohmann::json causes = status.is_object() ? status.value("/details/causes"_json_pointer, nlohmann::json())
                                                   : nlohmann::json();
  if (causes.is_array()) {
    for (const auto& cause : causes) {
      const std::string text = cause.is_object() ? cause.value("message", "") : "";
      if (!text.empty() && error.message.find(text) == std::string::npos) error.message += ": " + text;
    }
  }
  return error;
}

Error decodeApiError(const HttpResponse& response) {
  nlohmann::json body =
      nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object() && body.value("kind", "") == "Status") {
    Error error = decodeStatusObject(body, response.status);
    error.http_status = response.status;  // the transport's status is authoritative
    return error;
  }
  Error error;
  error.http_status = response.status;
  error.reason = reasonForStatus(response.status);
  // A non-Status body (an HTML proxy page, plain text): keep a short excerpt.
  constexpr size_t kMaxExcerpt = 200;
  error.message = response.body.substr(0, kMaxExcerpt);
  while (!error.message.empty() &&
         (error.message.back() == '\n' || error.message.back() == '\r')) {
    error.message.pop_back();
  }
  return error;
}

}  // namespace warren::kube
