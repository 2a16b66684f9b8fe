#include "binding/config_patch.h"

#include <map>
#include <optional>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace warren::binding {
namespace {

using json = nlohmann::json;

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(path);
  while (std::getline(in, part, '.')) parts.push_back(part);
  return parts;
}

Error invalidPath(const std::string& path, const std::string& why) {
  return Error::terminalError("InvalidPath", "path \"" + path + "\": " + why);
}

// --- JSON: a scanner that finds the byte span of a value by path -----------

class JsonSpans {
 public:
  explicit JsonSpans(std::string_view text) : text_(text) {}

  struct Span {
    size_t begin = 0, end = 0;  // the value
    bool is_object = false;
    size_t close = 0;           // for objects: the closing brace
    bool empty = true;          // for objects: no members
  };
  // The span of the value at `path` (empty path = the root), if it exists.
  std::optional<Span> find(const std::vector<std::string>& path) {
    pos_ = 0;
    target_ = &path;
    found_.reset();
    std::vector<std::string> current;
    value(current);
    return found_;
  }

 private:
  void ws() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) ++pos_;
  }
  std::string string() {
    std::string out;
    ++pos_;  // opening quote
    while (pos_ < text_.size() && text_[pos_] != '"') {
      if (text_[pos_] == '\\') {
        out.push_back(text_[pos_++]);
      }
      out.push_back(text_[pos_++]);
    }
    ++pos_;  // closing quote
    // Keys are compared decoded (escapes are rare in config keys).
    return json::parse("\"" + out + "\"", nullptr, false).get<std::string>();
  }
  void value(std::vector<std::string>& path) {
    ws();
    Span span;
    span.begin = pos_;
    const bool wanted = path == *target_;
    if (text_[pos_] == '{') {
      span.is_object = true;
      ++pos_;
      ws();
      while (pos_ < text_.size() && text_[pos_] != '}') {
        span.empty = false;
        ws();
        std::string key = string();
        ws();
        ++pos_;  // ':'
        path.push_back(key);
        value(path);
        path.pop_back();
        ws();
        if (text_[pos_] == ',') ++pos_;
        ws();
      }
      span.close = pos_;
      ++pos_;
    } else if (text_[pos_] == '[') {
      ++pos_;
      ws();
      for (int index = 0; pos_ < text_.size() && text_[pos_] != ']'; ++index) {
        path.push_back(std::to_string(index));
        value(path);
        path.pop_back();
        ws();
        if (text_[pos_] == ',') ++pos_;
        ws();
      }
      ++pos_;
    } else if (text_[pos_] == '"') {
      (void)string();
    } else {
      while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '}' && text_[pos_] != ']' &&
             text_[pos_] != ' ' && text_[pos_] != '\n' && text_[pos_] != '\r' && text_[pos_] != '\t') {
        ++pos_;
      }
    }
    span.end = pos_;
    if (wanted) found_ = span;
  }

  std::string_view text_;
  size_t pos_ = 0;
  const std::vector<std::string>* target_ = nullptr;
  std::optional<Span> found_;
};

Result<std::string> setJson(std::string text, const std::string& path, const json& value) {
  const json parsed = json::parse(text, nullptr, false);
  const auto parts = splitPath(path);
  // Where the path stops existing, and whether it crosses a non-object.
  const json* node = &parsed;
  size_t existing = 0;
  for (; existing < parts.size(); ++existing) {
    if (!node->is_object()) return invalidPath(path, "\"" + parts[existing] + "\" is inside a value that is not an object");
    auto it = node->find(parts[existing]);
    if (it == node->end()) break;
    node = &*it;
  }
  JsonSpans spans(text);
  if (existing == parts.size()) {
    auto span = spans.find(parts);
    if (!span) return invalidPath(path, "not found");
    return text.replace(span->begin, span->end - span->begin, value.dump());
  }
  // Insert the missing part into the deepest existing object.
  const std::vector<std::string> parent(parts.begin(), parts.begin() + static_cast<long>(existing));
  auto span = spans.find(parent);
  if (!span || !span->is_object) return invalidPath(path, "parent is not an object");
  json fragment = value;
  for (size_t i = parts.size(); i-- > existing + 1;) fragment = json{{parts[i], fragment}};
  const std::string member = json(parts[existing]).dump() + ": " + fragment.dump();
  return text.insert(span->close, span->empty ? member : ", " + member);
}

// --- YAML: block mappings edited line by line -------------------------------

struct YamlLine {
  size_t begin, end;  // [begin, end) excluding the newline
  int indent;
  std::string key;      // empty for lines that are not "key: ..."
  size_t value_begin;   // where the value text starts (after ": ")
  size_t value_end;     // before a trailing comment
  bool list_item = false;  // starts with "- "
};

// The end of a quoted scalar starting at `begin` (after its closing quote),
// or npos when it does not close on this line.
size_t quotedEnd(const std::string& text, size_t begin, size_t end) {
  const char quote = text[begin];
  for (size_t p = begin + 1; p < end; ++p) {
    if (quote == '"' && text[p] == '\\') {
      ++p;
    } else if (text[p] == quote) {
      if (quote == '\'' && p + 1 < end && text[p + 1] == '\'') {
        ++p;  // '' is an escaped quote
        continue;
      }
      return p + 1;
    }
  }
  return std::string::npos;
}

std::vector<YamlLine> yamlLines(const std::string& text) {
  std::vector<YamlLine> lines;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    YamlLine line{begin, end, 0, "", end, end};
    size_t p = begin;
    while (p < end && text[p] == ' ') ++p;
    line.indent = static_cast<int>(p - begin);
    line.list_item = p < end && text[p] == '-' && (p + 1 == end || text[p + 1] == ' ');
    if (p < end && text[p] != '#' && !line.list_item) {
      const size_t colon = text.find(':', p);
      if (colon != std::string::npos && colon < end && (colon + 1 == end || text[colon + 1] == ' ')) {
        line.key = text.substr(p, colon - p);
        if (line.key.size() >= 2 && (line.key.front() == '"' || line.key.front() == '\'')) {
          line.key = line.key.substr(1, line.key.size() - 2);
        }
        size_t v = colon + 1;
        while (v < end && text[v] == ' ') ++v;
        line.value_begin = v;
        // A comment starts at " #" after the value; inside a quoted scalar "#" is just a character.
        size_t scan_from = v;
        if (v < end && (text[v] == '"' || text[v] == '\'')) {
          const size_t closed = quotedEnd(text, v, end);
          scan_from = closed == std::string::npos ? end : closed;
        }
        size_t comment = text.find(" #", scan_from);
        line.value_end = comment != std::string::npos && comment < end ? comment : end;
        while (line.value_end > v && text[line.value_end - 1] == ' ') --line.value_end;
      }
    }
    lines.push_back(line);
    begin = end + 1;
  }
  return lines;
}

std::string yamlScalar(const json& value) {
  if (value.is_number()) return value.dump();
  return value.dump();  // a double-quoted JSON string is a valid YAML scalar
}

Result<std::string> setYaml(std::string text, const std::string& path, const json& value) {
  const auto parts = splitPath(path);
  const auto lines = yamlLines(text);
  // Walk the block structure: for each depth, the line range of the mapping.
  size_t from = 0, to = lines.size();
  int indent = -1;
  size_t parent_line = std::string::npos;
  for (size_t depth = 0; depth < parts.size(); ++depth) {
    // The child indent is that of the first key line in range deeper than `indent`.
    int child_indent = -1;
    size_t match = std::string::npos;
    for (size_t i = from; i < to; ++i) {
      // A list inside the map being searched (also an indentless one, at the key's own indent).
      if (depth > 0 && lines[i].list_item && lines[i].indent >= indent &&
          (child_indent < 0 || lines[i].indent <= child_indent)) {
        return invalidPath(path, "\"" + parts[depth - 1] + "\" holds a list; list items cannot be addressed by a dotted path");
      }
      if (lines[i].key.empty()) continue;
      if (lines[i].indent <= indent) break;
      if (child_indent < 0) child_indent = lines[i].indent;
      if (lines[i].indent == child_indent && lines[i].key == parts[depth]) {
        match = i;
        break;
      }
    }
    if (match == std::string::npos) {
      // Missing: insert the rest of the path after the parent's block.
      const int base = child_indent >= 0 ? child_indent : (indent < 0 ? 0 : indent + 2);
      std::string block;
      for (size_t d = depth; d < parts.size(); ++d) {
        block += std::string(static_cast<size_t>(base + 2 * static_cast<int>(d - depth)), ' ') + parts[d] + ":";
        block += d + 1 == parts.size() ? " " + yamlScalar(value) + "\n" : "\n";
      }
      size_t at = text.size();
      for (size_t i = (parent_line == std::string::npos ? from : parent_line + 1); i < to; ++i) {
        if (!lines[i].key.empty() && lines[i].indent <= indent) break;
        at = std::min(text.size(), lines[i].end + 1);
      }
      if (parent_line != std::string::npos && to == parent_line + 1) at = lines[parent_line].end + 1;
      if (at > text.size()) at = text.size();
      if (at == text.size() && !text.empty() && text.back() != '\n') text += "\n", at = text.size();
      return text.insert(at, block);
    }
    const YamlLine& line = lines[match];
    if (depth + 1 == parts.size()) {
      const std::string current = text.substr(line.value_begin, line.value_end - line.value_begin);
      if (current == "|" || current == ">" || current.rfind("|", 0) == 0 || current.rfind(">", 0) == 0 ||
          (!current.empty() && (current.front() == '{' || current.front() == '[' || current.front() == '&' ||
                                current.front() == '*'))) {
        return invalidPath(path, "its value is not a plain scalar on one line");
      }
      if (current.empty()) return invalidPath(path, "is a map, not a value");
      return text.replace(line.value_begin, line.value_end - line.value_begin, yamlScalar(value));
    }
    if (line.value_begin != line.value_end) {
      return invalidPath(path, "\"" + parts[depth] + "\" holds a value, not a map");
    }
    // Descend into this key's block.
    parent_line = match;
    indent = line.indent;
    from = match + 1;
    size_t end = from;
    while (end < to && (lines[end].key.empty() ? true : lines[end].indent > indent)) ++end;
    to = end;
  }
  return invalidPath(path, "empty path");
}


// --- Read-back: every edit is checked by parsing the result --------------

// The text form a value is compared in (YAML and env values are strings).
std::string textOf(const json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

// `tree` with the value at `parts` set to `value`, creating maps on the way
// (as an insert does); nullopt when the path crosses something that is not
// a map.
std::optional<json> withValue(json tree, const std::vector<std::string>& parts, const json& value) {
  json* node = &tree;
  for (const auto& part : parts) {
    if (node->is_null()) *node = json::object();
    if (!node->is_object()) return std::nullopt;
    node = &(*node)[part];
  }
  *node = value;
  return tree;
}

Error readBackMismatch(const std::string& path) {
  return invalidPath(path, "the edited document does not read back with only this value changed; nothing was written");
}

// A YAML document as JSON, every scalar as its string.
json yamlTree(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& item : node) out[item.first.Scalar()] = yamlTree(item.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(yamlTree(item));
      return out;
    }
    case YAML::NodeType::Scalar:
      return node.Scalar();
    default:
      return nullptr;
  }
}

std::optional<json> parseYamlTree(const std::string& text) {
  try {
    return yamlTree(YAML::Load(text));
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
}

// --- env files: KEY=value lines, the last assignment of a key wins ---------

struct EnvAssignment {
  std::string key;
  size_t value_begin = 0, value_end = 0;  // the value's bytes, quotes included, comment excluded
  char quote = 0;                         // '"', '\'' or 0
  std::string value;                      // as a shell would read it
};

// Every KEY=value line (optionally "export "), in order; for a key, the
// last is the one shells use.
std::vector<EnvAssignment> envAssignments(const std::string& text) {
  std::vector<EnvAssignment> found;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    size_t p = begin;
    while (p < end && (text[p] == ' ' || text[p] == '\t')) ++p;
    if (text.compare(p, 7, "export ") == 0) p += 7;
    const size_t equals = text.find('=', p);
    if (p < end && text[p] != '#' && equals != std::string::npos && equals < end && equals > p &&
        text.find_first_of(" \t", p) >= equals) {
      EnvAssignment a;
      a.key = text.substr(p, equals - p);
      a.value_begin = equals + 1;
      const size_t v = a.value_begin;
      if (v < end && (text[v] == '"' || text[v] == '\'')) {
        a.quote = text[v];
        const size_t close = text.find(a.quote, v + 1);
        const size_t last = close == std::string::npos || close >= end ? end : close;
        a.value_end = last == end ? end : last + 1;
        a.value = text.substr(v + 1, last - v - 1);
      } else {
        const size_t comment = text.find(" #", v);
        a.value_end = comment != std::string::npos && comment < end ? comment : end;
        while (a.value_end > v && (text[a.value_end - 1] == ' ' || text[a.value_end - 1] == '\t' || text[a.value_end - 1] == '\r')) {
          --a.value_end;
        }
        a.value = text.substr(v, a.value_end - v);
      }
      found.push_back(std::move(a));
    }
    begin = end + 1;
  }
  return found;
}

// Every key's effective value (the last assignment wins).
std::map<std::string, std::string> envValues(const std::string& text) {
  std::map<std::string, std::string> values;
  for (auto& assignment : envAssignments(text)) values[assignment.key] = std::move(assignment.value);
  return values;
}

}  // namespace

Result<std::string> patchJson(std::string_view text, const Assignments& assignments) {
  const json parsed = json::parse(text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Error::terminalError("Unparseable", "not a JSON object");
  }
  std::string out(text);
  json expected = parsed;
  for (const auto& [path, value] : assignments) {
    auto next = setJson(out, path, value);
    if (!next) return next.error();
    auto wanted = withValue(expected, splitPath(path), value);
    if (!wanted || json::parse(*next, nullptr, false) != *wanted) return readBackMismatch(path);
    expected = std::move(*wanted);
    out = std::move(*next);
  }
  return out;
}

Result<std::string> patchYaml(std::string_view text, const Assignments& assignments) {
  std::optional<json> expected;
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    if (root && !root.IsNull() && !root.IsMap()) return Error::terminalError("Unparseable", "YAML document is not a map");
    expected = yamlTree(root);
  } catch (const YAML::Exception& e) {
    return Error::terminalError("Unparseable", std::string("not valid YAML: ") + e.what());
  }
  std::string out(text);
  for (const auto& [path, value] : assignments) {
    auto next = setYaml(out, path, value);
    if (!next) return next.error();
    // Read back: the result must parse to what it was with exactly this value changed.
    auto wanted = withValue(*expected, splitPath(path), textOf(value));
    const auto reread = parseYamlTree(*next);
    if (!wanted || !reread || *reread != *wanted) return readBackMismatch(path);
    expected = std::move(wanted);
    out = std::move(*next);
  }
  return out;
}

Result<std::string> patchEnv(std::string_view text, const Assignments& assignments) {
  std::string out(text);
  for (const auto& [key, value] : assignments) {
    if (key.empty() || key.find_first_of("= \t\n#\"'") != std::string::npos) return invalidPath(key, "is not an env key");
    const std::string rendered = textOf(value);
    if (rendered.find_first_of("\n\"'`$\\ #") != std::string::npos) {
      return invalidPath(key, "the value cannot be written to an env file unquoted");
    }
    auto expected = envValues(out);
    expected[key] = rendered;
    // Shells use the last assignment: that is the one edited; earlier ones are left as they are.
    std::optional<EnvAssignment> last;
    for (auto& assignment : envAssignments(out)) {
      if (assignment.key == key) last = std::move(assignment);
    }
    std::string next = out;
    if (!last) {
      if (!next.empty() && next.back() != '\n') next += "\n";
      next += key + "=" + rendered + "\n";
    } else {
      const std::string quoted = last->quote ? std::string(1, last->quote) + rendered + last->quote : rendered;
      next.replace(last->value_begin, last->value_end - last->value_begin, quoted);
    }
    if (envValues(next) != expected) return readBackMismatch(key);
    out = std::move(next);
  }
  return out;
}

Result<std::string> renderTemplate(std::string_view text, const std::vector<std::pair<std::string, std::string>>& values) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find("{{", pos);
    if (open == std::string::npos) {
      out.append(text.substr(pos));
      break;
    }
    const size_t close = text.find("}}", open);
    if (close == std::string::npos) return invalidPath(std::string(text.substr(open, 20)), "unclosed {{");
    out.append(text.substr(pos, open - pos));
    std::string name(text.substr(open + 2, close - open - 2));
    while (!name.empty() && name.front() == ' ') name.erase(0, 1);
    while (!name.empty() && name.back() == ' ') name.pop_back();
    bool known = false;
    for (const auto& [key, value] : values) {
      if (key == name) {
        out += value;
        known = true;
        break;
      }
    }
    if (!known) return invalidPath("{{" + name + "}}", "unknown placeholder");
    pos = close + 2;
  }
  return out;
}

}  // namespace warren::binding
