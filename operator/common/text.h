// Small text helpers shared by builders and controllers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace warren {

// "a, b, c" for joined({"a", "b", "c"}, ", "); "" for none.
inline std::string joined(const std::vector<std::string>& values, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += separator;
    out += values[i];
  }
  return out;
}

}  // namespace warren
