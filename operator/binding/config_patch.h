// Format-preserving edits of client configuration, for BrokerBinding: set a
// few fields (host, port, uri, node name) in a JSON document, a YAML
// document, or an env/properties file, leaving every other byte as it was;
// or render a whole value from a template. A document that cannot be parsed
// or a path that cannot be set is an error value, and the text is never
// rewritten in that case.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace warren::binding {

// path (dotted for JSON and YAML, a key for env) -> new value (a string or a number).
using Assignments = std::vector<std::pair<std::string, nlohmann::json>>;

// Error reasons: "Unparseable" (the document is not valid in its format)
// and "InvalidPath" (the path crosses a value that is not a map).
Result<std::string> patchJson(std::string_view text, const Assignments& assignments);
Result<std::string> patchYaml(std::string_view text, const Assignments& assignments);
Result<std::string> patchEnv(std::string_view text, const Assignments& assignments);
// Replaces {{name}} placeholders; an unknown placeholder is "InvalidPath".
Result<std::string> renderTemplate(std::string_view text,
                                   const std::vector<std::pair<std::string, std::string>>& values);

}  // namespace warren::binding
