#include "api/offload_pipeline.h"

#include <algorithm>
#include <set>

#include "api/broker_cluster.h"
#include "kube/tls_material.h"

namespace warren::api {
namespace {

void readSecretKeyRef(FieldReader& parent, std::string_view field, SecretKeyRef& out, bool required) {
  if (required && !parent.has(field)) return parent.fail(field, "is required");
  if (!parent.has(field)) return;
  FieldReader ref = parent.object(field);
  ref.require("name", out.name);
  if (ref.ok() && out.name.empty()) ref.fail("name", "must not be empty");
  ref.read("key", out.key);
  if (ref.ok() && out.key.empty()) ref.fail("key", "must not be empty");
}

ObjectPolicy readPolicy(FieldReader& spec, std::string_view field) {
  std::string value = "Report";
  spec.read(field, value);
  if (value == "Report") return ObjectPolicy::kReport;
  if (value == "Delete") return ObjectPolicy::kDelete;
  spec.fail(field, "must be Report or Delete, not \"" + value + "\"");
  return ObjectPolicy::kReport;
}

// S3's bucket naming rules, the ones a typo breaks: 3-63 of [a-z0-9.-], starting and ending alphanumeric.
bool validBucketName(const std::string& name) {
  if (name.size() < 3 || name.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return alnum(name.front()) && alnum(name.back()) &&
         std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '-' || c == '.'; });
}

}  // namespace

const kube::ResourceType& offloadPipelines() {
  static const kube::ResourceType type{kGroup, kVersion, "OffloadPipeline", "offloadpipelines", true};
  return type;
}

const char* policyName(ObjectPolicy policy) { return policy == ObjectPolicy::kDelete ? "Delete" : "Report"; }

std::optional<std::chrono::seconds> parseDurationSeconds(const std::string& text) {
  if (text.size() < 2 || text.size() > 12) return std::nullopt;
  const char unit = text.back();
  const std::string number = text.substr(0, text.size() - 1);
  if (!std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  const long long value = std::stoll(number);
  switch (unit) {
    case 's': return std::chrono::seconds(value);
    case 'm': return std::chrono::seconds(value * 60);
    case 'h': return std::chrono::seconds(value * 3600);
    case 'd': return std::chrono::seconds(value * 86400);
    default: return std::nullopt;
  }
}

bool isPostgresIdentifier(const std::string& name) {
  if (name.empty() || name.size() > 63 || !((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

bool isDnsLabel(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return alnum(name.front()) && alnum(name.back()) &&
         std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '-'; });
}

std::string OffloadPipeline::ledgerSchema() const {
  if (!spec.database.schema.empty()) return spec.database.schema;
  std::string schema = "warren_" + ns + "_" + name;
  std::replace_if(schema.begin(), schema.end(), [](char c) { return c == '-' || c == '.'; }, '_');
  if (schema.size() > 63) schema = schema.substr(0, 54) + "_" + kube::sha256Hex(ns + "/" + name).substr(0, 8);
  return schema;
}

Result<OffloadPipeline> parseOffloadPipeline(const nlohmann::json& object) {
  OffloadPipeline pipeline;
  FieldReader root(&object, "");
  static_cast<ObjectIdentity&>(pipeline) = readIdentity(root);
  FieldReader spec = root.object("spec");
  OffloadPipelineSpec& s = pipeline.spec;
  readClusterRef(spec, s.cluster_name, &s.cluster_namespace);

  if (!spec.has("storage")) spec.fail("storage", "is required");
  FieldReader storage = spec.object("storage");
  OffloadStorage& st = s.storage;
  storage.require("endpoint", st.endpoint);
  if (storage.ok() && st.endpoint.rfind("http://", 0) != 0 && st.endpoint.rfind("https://", 0) != 0) {
    storage.fail("endpoint", "must start with http:// or https://");
  }
  storage.require("bucket", st.bucket);
  if (storage.ok() && !validBucketName(st.bucket)) {
    storage.fail("bucket", "\"" + st.bucket + "\" is not a bucket name (3-63 of [a-z0-9.-])");
  }
  storage.read("region", st.region);
  if (storage.ok() && st.region.empty()) storage.fail("region", "must not be empty");
  storage.read("pathStyle", st.path_style);
  if (storage.ok() && !st.path_style) storage.fail("pathStyle", "virtual-hosted style is not supported; must be true");
  if (!storage.has("credentialsSecretRef")) storage.fail("credentialsSecretRef", "is required");
  FieldReader credentials = storage.object("credentialsSecretRef");
  credentials.require("name", st.credentials_secret);
  if (credentials.ok() && st.credentials_secret.empty()) credentials.fail("name", "must not be empty");
  credentials.read("accessKeyIdKey", st.access_key_id_key);
  credentials.read("secretAccessKeyKey", st.secret_access_key_key);
  storage.read("createBucket", st.create_bucket);
  st.ca.key = "ca.crt";
  readSecretKeyRef(storage, "caSecretRef", st.ca, false);

  if (!spec.has("database")) spec.fail("database", "is required");
  FieldReader database = spec.object("database");
  readSecretKeyRef(database, "uriSecretRef", s.database.uri, true);
  database.read("schema", s.database.schema);
  if (database.ok() && !s.database.schema.empty() && !isPostgresIdentifier(s.database.schema)) {
    database.fail("schema", "must match [a-z_][a-z0-9_]*, at most 63 characters");
  }

  if (!spec.has("recipients")) spec.fail("recipients", "is required");
  spec.read("recipients", s.recipients);
  if (spec.ok() && s.recipients.empty()) spec.fail("recipients", "must name at least one recipient");
  std::set<std::string> seen;
  for (size_t i = 0; spec.ok() && i < s.recipients.size(); ++i) {
    const std::string field = "recipients[" + std::to_string(i) + "]";
    if (!isDnsLabel(s.recipients[i])) spec.fail(field, "\"" + s.recipients[i] + "\" is not a recipient name ([a-z0-9-], 1-63)");
    if (!seen.insert(s.recipients[i]).second) spec.fail(field, "\"" + s.recipients[i] + "\" is listed twice");
  }

  spec.read("inlineThresholdBytes", s.inline_threshold_bytes);
  if (spec.ok() && (s.inline_threshold_bytes < 0 || s.inline_threshold_bytes > 16 * 1024 * 1024)) {
    spec.fail("inlineThresholdBytes", "must be between 0 and 16777216");
  }
  spec.read("compression", s.compression);
  if (s.compression != "none" && s.compression != "gzip") spec.fail("compression", "must be none or gzip, not \"" + s.compression + "\"");
  spec.read("objectTTL", s.object_ttl);
  if (auto ttl = parseDurationSeconds(s.object_ttl); ttl && ttl->count() > 0) {
    s.object_ttl_seconds = *ttl;
  } else {
    spec.fail("objectTTL", "\"" + s.object_ttl + "\" is not a positive duration such as 90s, 15m, 24h or 7d");
  }
  s.expiry_policy = readPolicy(spec, "expiryPolicy");
  s.orphan_policy = readPolicy(spec, "orphanPolicy");

  FieldReader coordinator = spec.object("coordinator");
  coordinator.read("replicas", s.coordinator.replicas);
  if (coordinator.ok() && (s.coordinator.replicas < 0 || s.coordinator.replicas > 10)) {
    coordinator.fail("replicas", "must be between 0 and 10");
  }
  coordinator.read("image", s.coordinator.image);
  coordinator.readObject("resources", s.coordinator.resources);

  FieldReader binding = spec.object("binding");
  binding.read("includeCredentials", s.binding_includes_credentials);

  std::string deletion = "Retain";
  spec.read("deletionPolicy", deletion);
  if (deletion == "Delete") {
    s.deletion_policy = DeletionPolicy::kDelete;
  } else if (deletion != "Retain") {
    spec.fail("deletionPolicy", "must be Retain or Delete, not \"" + deletion + "\"");
  }
  if (root.ok() && pipeline.topologyName().size() > 100) {
    root.fail("metadata.name", "namespace and name together must be at most 99 characters (RabbitMQ names derive from them)");
  }

  // What warren wrote itself; a wrong type is still reported, never a crash.
  FieldReader status = root.object("status");
  status.read("boundRecipients", pipeline.bound_recipients);
  if (!root.ok()) return root.status().error();
  return pipeline;
}

}  // namespace warren::api
