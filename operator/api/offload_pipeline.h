// OffloadPipeline (warren.dev/v1alpha1): the typed view of seed 001's
// pipeline, parsed once from the stored object. Large payloads go to an
// S3-compatible bucket, pointers to them over a BrokerCluster, ACKs into a
// PostgreSQL ledger; a coordinator deletes each object once all of its
// recipients confirmed. parseOffloadPipeline() never throws; a bad field is
// an InvalidSpec error naming it, reported in the Ready condition.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/field_reader.h"
#include "common/result.h"
#include "kube/resource.h"

namespace warren::api {

const kube::ResourceType& offloadPipelines();

inline constexpr const char* kDefaultOffloadImage = "warren-operator:0.1.0";
inline constexpr const char* kOffloadFinalizer = "warren.dev/offload-topology";

// A key of a Secret in the pipeline's namespace.
struct SecretKeyRef {
  std::string name;
  std::string key;
};

struct OffloadStorage {
  std::string endpoint;  // http(s)://host[:port]
  std::string bucket;
  std::string region = "us-east-1";
  bool path_style = true;
  std::string credentials_secret;
  std::string access_key_id_key = "AWS_ACCESS_KEY_ID";
  std::string secret_access_key_key = "AWS_SECRET_ACCESS_KEY";
  bool create_bucket = false;
  SecretKeyRef ca;  // name empty: the system's CAs
};

struct OffloadDatabase {
  SecretKeyRef uri{"", "uri"};
  std::string schema;  // empty: derived from namespace and name
};

struct OffloadCoordinator {
  int replicas = 2;
  std::string image;  // empty: the operator's own image
  nlohmann::json resources;
};

enum class ObjectPolicy { kReport, kDelete };
enum class DeletionPolicy { kRetain, kDelete };

struct OffloadPipelineSpec {
  std::string cluster_name;
  std::string cluster_namespace;  // empty: the pipeline's
  OffloadStorage storage;
  OffloadDatabase database;
  std::vector<std::string> recipients;
  long long inline_threshold_bytes = 64 * 1024;
  std::string compression = "none";  // none or gzip
  std::string object_ttl = "24h";
  std::chrono::seconds object_ttl_seconds{24 * 3600};
  ObjectPolicy expiry_policy = ObjectPolicy::kReport;
  ObjectPolicy orphan_policy = ObjectPolicy::kReport;
  OffloadCoordinator coordinator;
  bool binding_includes_credentials = false;
  DeletionPolicy deletion_policy = DeletionPolicy::kRetain;
};

struct OffloadPipeline : ObjectIdentity {
  OffloadPipelineSpec spec;
  // status.boundRecipients as last written: the recipients whose queues
  // warren bound, so one removed from spec can be unbound.
  std::vector<std::string> bound_recipients;

  const std::string& clusterNamespace() const { return spec.cluster_namespace.empty() ? ns : spec.cluster_namespace; }
  // The prefix of every RabbitMQ name and S3 key of this pipeline: "<namespace>.<name>",
  // unique per broker even when pipelines of several namespaces share one.
  std::string topologyName() const { return ns + "." + name; }
  // The ledger's PostgreSQL schema: spec.database.schema, else
  // "warren_<namespace>_<name>" with '-' and '.' as '_' (shortened with a hash
  // beyond PostgreSQL's 63 characters).
  std::string ledgerSchema() const;
  std::string coordinatorName() const { return name + "-coordinator"; }
  std::string coordinatorConfigName() const { return name + "-coordinator-config"; }
  std::string bindingSecretName() const { return name + "-binding"; }
};

Result<OffloadPipeline> parseOffloadPipeline(const nlohmann::json& object);

const char* policyName(ObjectPolicy policy);

// A DNS label: 1-63 of [a-z0-9-], alphanumeric at both ends (recipient names).
bool isDnsLabel(const std::string& name);

// [a-z_][a-z0-9_]*, at most 63 characters: a ledger schema name that needs no quoting.
bool isPostgresIdentifier(const std::string& name);

// "90s", "15m", "24h", "7d": the CRD's duration format; nullopt otherwise.
std::optional<std::chrono::seconds> parseDurationSeconds(const std::string& text);

}  // namespace warren::api
