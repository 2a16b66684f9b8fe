// Config patching never reports success for a wrong edit. The regressions a
// user found (a path through a list, '#' inside a quoted value, duplicate
// env keys), and a seeded property test: random JSON, YAML and env
// documents and random paths, where every result either reads back as the
// original with exactly that one value changed (checked here with the
// parsers themselves, independently of the patcher) or is reported.
#include <random>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "binding/config_patch.h"

namespace warren::binding {
namespace {

using json = nlohmann::json;

TEST(ConfigPatchRegressionTest, AYamlPathThroughAListIsReportedNotAppendedToTheFirstItem) {
  const std::string text = "brokers:\n  - host: a\n    port: 1\n  - host: b\n";
  auto patched = patchYaml(text, {{"brokers.host", "new"}});
  ASSERT_FALSE(patched.ok()) << *patched;
  EXPECT_EQ(patched.error().reason, "InvalidPath");
  // An indentless list too.
  EXPECT_FALSE(patchYaml("brokers:\n- host: a\n  port: 1\n", {{"brokers.host", "new"}}).ok());
}

TEST(ConfigPatchRegressionTest, AHashInsideAQuotedYamlValueIsNotAComment) {
  auto patched = patchYaml("host: \"old #1\"  # the broker\nport: 1\n", {{"host", "NEW"}});
  ASSERT_TRUE(patched.ok()) << patched.error().message;
  EXPECT_EQ(*patched, "host: \"NEW\"  # the broker\nport: 1\n");
  auto single = patchYaml("host: 'it''s #1' # c\n", {{"host", "h"}});
  ASSERT_TRUE(single.ok()) << single.error().message;
  EXPECT_EQ(*single, "host: \"h\" # c\n");
}

TEST(ConfigPatchRegressionTest, EnvEditsTheLastAssignmentTheOneShellsUse) {
  auto patched = patchEnv("HOST=a\nMODE=x\nHOST=b # second wins\n", {{"HOST", "c"}});
  ASSERT_TRUE(patched.ok()) << patched.error().message;
  EXPECT_EQ(*patched, "HOST=a\nMODE=x\nHOST=c # second wins\n");
  auto quoted = patchEnv("export HOST=\"old\"\n", {{"HOST", "new"}});
  ASSERT_TRUE(quoted.ok());
  EXPECT_EQ(*quoted, "export HOST=\"new\"\n");
  EXPECT_FALSE(patchEnv("HOST=a\n", {{"HOST", "two words"}}).ok());
}

// --- The property test --------------------------------------------------

class Generator {
 public:
  explicit Generator(unsigned seed) : rng_(seed) {}
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  std::string key() {
    static const char* keys[] = {"host", "port", "broker", "a", "b", "rabbitmq", "x-y", "list", "name", "z"};
    return keys[pick(10)];
  }
  std::string word() {
    static const char* words[] = {"plain", "with space", "has #hash", "it's", "say \"hi\"", "", "123", "true",
                                  "null", "a: b", "- dash", "üñí", "tab\there", "#start"};
    return words[pick(14)];
  }
  json value(int depth) {
    switch (pick(depth > 2 ? 4 : 7)) {
      case 0: return word();
      case 1: return pick(1000);
      case 2: return pick(2) == 0;
      case 3: return nullptr;
      case 4:
      case 5: {
        json object = json::object();
        for (int i = pick(4); i >= 0; --i) object[key()] = value(depth + 1);
        return object;
      }
      default: {
        json array = json::array();
        for (int i = pick(3); i >= 0; --i) array.push_back(value(depth + 1));
        return array;
      }
    }
  }
  json document() {
    json object = json::object();
    for (int i = pick(5); i >= 0; --i) object[key()] = value(1);
    return object;
  }
  std::string path() {
    std::string out = key();
    for (int i = pick(3); i > 0; --i) out += "." + key();
    return out;
  }
  json newValue() { return pick(2) ? json("rabbit-" + std::to_string(pick(9)) + ".svc") : json(5670 + pick(9)); }

 private:
  std::mt19937 rng_;
};

// YAML block text for a JSON document, in one of several styles.
void emitYaml(YAML::Emitter& out, const json& value, Generator& g) {
  if (value.is_object()) {
    if (value.empty()) {
      out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
      return;
    }
    out << YAML::BeginMap;
    for (const auto& [k, v] : value.items()) {
      out << YAML::Key << k << YAML::Value;
      emitYaml(out, v, g);
      if (g.pick(5) == 0) out << YAML::Comment("note #" + std::to_string(g.pick(9)));
    }
    out << YAML::EndMap;
  } else if (value.is_array()) {
    if (g.pick(3) == 0) out << YAML::Flow;
    out << YAML::BeginSeq;
    for (const auto& v : value) emitYaml(out, v, g);
    out << YAML::EndSeq;
  } else if (value.is_string()) {
    const int style = g.pick(3);
    if (style == 1) out << YAML::DoubleQuoted;
    if (style == 2) out << YAML::SingleQuoted;
    out << value.get<std::string>();
  } else if (value.is_null()) {
    out << YAML::Null;
  } else {
    out << value.dump();
  }
}

json yamlAsTree(const YAML::Node& node) {
  if (node.IsMap()) {
    json out = json::object();
    for (const auto& item : node) out[item.first.Scalar()] = yamlAsTree(item.second);
    return out;
  }
  if (node.IsSequence()) {
    json out = json::array();
    for (const auto& item : node) out.push_back(yamlAsTree(item));
    return out;
  }
  if (node.IsScalar()) return node.Scalar();
  return nullptr;
}

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    parts.push_back(path.substr(start, dot - start));
    if (dot == std::string::npos) return parts;
    start = dot + 1;
  }
}

// `tree` with exactly `path` set (maps created on the way), or null when the path crosses a non-map.
json expectedAfter(json tree, const std::string& path, const json& value) {
  json* node = &tree;
  for (const auto& part : split(path)) {
    if (node->is_null()) *node = json::object();
    if (!node->is_object()) return json(json::value_t::discarded);
    node = &(*node)[part];
  }
  *node = value;
  return tree;
}

struct Tally {
  int edited = 0, reported = 0;
};

constexpr int kCases = 3000;

TEST(ConfigPatchPropertyTest, JsonEditsReadBackWithExactlyOneValueChangedOrAreReported) {
  Generator g(20261202);
  Tally tally;
  for (int i = 0; i < kCases; ++i) {
    const json document = g.document();
    const std::string text = document.dump(g.pick(3) == 0 ? -1 : 2);
    const std::string path = g.path();
    const json value = g.newValue();
    auto patched = patchJson(text, {{path, value}});
    if (!patched) {
      ++tally.reported;
      continue;
    }
    ++tally.edited;
    const json expected = expectedAfter(document, path, value);
    ASSERT_FALSE(expected.is_discarded()) << "case " << i << ": edited through a non-map: " << text << " @ " << path;
    ASSERT_EQ(json::parse(*patched, nullptr, false), expected) << "case " << i << "\n" << text << "\n@ " << path << "\n" << *patched;
  }
  EXPECT_GT(tally.edited, kCases / 4);
  EXPECT_GT(tally.reported, 0);
}

TEST(ConfigPatchPropertyTest, YamlEditsReadBackWithExactlyOneValueChangedOrAreReported) {
  Generator g(4242);
  Tally tally;
  for (int i = 0; i < kCases; ++i) {
    const json document = g.document();
    YAML::Emitter out;
    out.SetIndent(g.pick(2) ? 2 : 4);
    emitYaml(out, document, g);
    const std::string text = std::string(out.c_str()) + "\n";
    const json original = yamlAsTree(YAML::Load(text));
    const std::string path = g.path();
    const json value = g.newValue();
    auto patched = patchYaml(text, {{path, value}});
    if (!patched) {
      ++tally.reported;
      continue;
    }
    ++tally.edited;
    const json expected = expectedAfter(original, path, value.is_string() ? value.get<std::string>() : value.dump());
    ASSERT_FALSE(expected.is_discarded()) << "case " << i << ": edited through a non-map:\n" << text << "@ " << path;
    json reread;
    ASSERT_NO_THROW(reread = yamlAsTree(YAML::Load(*patched))) << "case " << i << ":\n" << *patched;
    ASSERT_EQ(reread, expected) << "case " << i << "\n" << text << "@ " << path << "\n" << *patched;
  }
  EXPECT_GT(tally.edited, kCases / 4);
  EXPECT_GT(tally.reported, 0);
}

// The effective value of every key, as a shell reading the file would see it.
std::map<std::string, std::string> shellValues(const std::string& text) {
  std::map<std::string, std::string> values;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t p = line.find_first_not_of(" \t");
    if (p == std::string::npos || line[p] == '#') continue;
    if (line.compare(p, 7, "export ") == 0) p += 7;
    const size_t eq = line.find('=', p);
    if (eq == std::string::npos) continue;
    std::string v = line.substr(eq + 1);
    if (!v.empty() && (v[0] == '"' || v[0] == '\'')) {
      v = v.substr(1, v.find(v[0], 1) - 1);
    } else if (const size_t hash = v.find(" #"); hash != std::string::npos) {
      v = v.substr(0, hash);
      while (!v.empty() && v.back() == ' ') v.pop_back();
    }
    values[line.substr(p, eq - p)] = v;
  }
  return values;
}

TEST(ConfigPatchPropertyTest, EnvEditsChangeExactlyTheEffectiveValueOrAreReported) {
  Generator g(7);
  Tally tally;
  static const char* keys[] = {"HOST", "PORT", "MODE", "URI"};
  for (int i = 0; i < kCases; ++i) {
    std::string text;
    for (int line = g.pick(8); line >= 0; --line) {
      switch (g.pick(5)) {
        case 0: text += "# comment HOST=x\n"; break;
        case 1: text += "\n"; break;
        case 2: text += std::string("export ") + keys[g.pick(4)] + "=\"q " + std::to_string(g.pick(9)) + "\"\n"; break;
        case 3: text += std::string(keys[g.pick(4)]) + "=v" + std::to_string(g.pick(9)) + " # note\n"; break;
        default: text += std::string(keys[g.pick(4)]) + "=v" + std::to_string(g.pick(9)) + "\n"; break;
      }
    }
    const std::string key = keys[g.pick(4)];
    const json value = g.newValue();
    auto patched = patchEnv(text, {{key, value}});
    if (!patched) {
      ++tally.reported;
      continue;
    }
    ++tally.edited;
    auto expected = shellValues(text);
    expected[key] = value.is_string() ? value.get<std::string>() : value.dump();
    ASSERT_EQ(shellValues(*patched), expected) << "case " << i << "\n" << text << "\n" << *patched;
  }
  EXPECT_EQ(tally.edited, kCases);
}

}  // namespace
}  // namespace warren::binding
