#include "common/result.h"

namespace warren {

std::string Error::describe() const {
  std::string out;
  if (http_status != 0) out += std::to_string(http_status) + " ";
  out += reason.empty() ? std::string("Unknown") : reason;
  if (!message.empty()) out += ": " + message;
  return out;
}

}  // namespace warren
