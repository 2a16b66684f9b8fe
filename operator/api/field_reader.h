// FieldReader: reads a custom resource's JSON once into typed structs. A
// field that is absent or null keeps the struct's default; a required field
// that is absent, or any field of the wrong type, becomes one terminal
// InvalidSpec error whose message names the field by its full path
// ("spec.targets[2].name: must be a string"). Nothing here throws or
// aborts, whatever the input, so a controller can parse any object the API
// server stored.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace warren::api {

class FieldReader {
 public:
  // Reads `node` (may be absent) that lives at `path` ("spec").
  FieldReader(const nlohmann::json* node, std::string path);

  // The path of `key` below this one ("spec.brokerClusterRef.name").
  std::string pathOf(std::string_view key) const;
  // True when the node is an object holding a non-null `key`.
  bool has(std::string_view key) const;

  // An object below this one; absent or null reads as empty, another type
  // is an error (and reads as empty).
  FieldReader object(std::string_view key);
  // The elements of an array below this one, each a reader at "key[i]".
  std::vector<FieldReader> items(std::string_view key);

  // Optional fields: `out` keeps its value when the field is absent or null.
  void read(std::string_view key, std::string& out);
  void read(std::string_view key, bool& out);
  void read(std::string_view key, int& out);
  void read(std::string_view key, long long& out);
  void read(std::string_view key, std::vector<std::string>& out);
  void read(std::string_view key, std::map<std::string, std::string>& out);
  // Any JSON object (kept as is, e.g. core/v1 ResourceRequirements).
  void readObject(std::string_view key, nlohmann::json& out);
  // Any JSON array of objects.
  void readObjectArray(std::string_view key, nlohmann::json& out);

  // Required fields: absent or null is an error.
  void require(std::string_view key, std::string& out);

  // Records an error about `key` unless one was recorded already; the first
  // error wins, so messages point at the first bad field in reading order.
  void fail(std::string_view key, const std::string& what);
  void failHere(const std::string& what);

  bool ok() const { return !error_->has_value(); }
  // The first error, or ok.
  Status status() const;

  // The raw node (nullptr when absent), for checks this class has no verb for.
  const nlohmann::json* node() const { return node_; }

 private:
  FieldReader(const nlohmann::json* node, std::string path, std::shared_ptr<std::optional<Error>> error);
  const nlohmann::json* find(std::string_view key) const;

  const nlohmann::json* node_;
  std::string path_;
  std::shared_ptr<std::optional<Error>> error_;
};

// The terminal error every parse returns: reason InvalidSpec, the message
// starting with the field's path.
Error invalidField(const std::string& path, const std::string& what);

// Metadata every kind reads the same way (the typed structs derive from it).
struct ObjectIdentity {
  std::string name;
  std::string ns;
  std::string uid;
  long long generation = 0;
  std::map<std::string, std::string> annotations;
};
// Reads metadata (name required) and checks that `spec` is there: a missing
// or null spec is an error naming "spec".
ObjectIdentity readIdentity(FieldReader& root);

// Reads spec.brokerClusterRef (required, with a non-empty name) into
// `name` and, when given, `ns`.
void readClusterRef(FieldReader& spec, std::string& name, std::string* ns);

}  // namespace warren::api
