// Turns a non-2xx API response into an Error carrying the HTTP status and the
// metav1.Status reason and message, whatever shape the body has.
#pragma once

#include "common/result.h"
#include "kube/http.h"

#include <nlohmann/json.hpp>

namespace warren::kube {

Error decodeApiError(const HttpResponse& response);
// Decodes a metav1.Status object (as found in a watch ERROR event).
Error decodeStatusObject(const nlohmann::json& status, int fallback_http_status);

}  // namespace warren::kube
