// One builder per child of an OffloadPipeline: the coordinator's config
// Secret (every connection it needs, as environment variables), its
// Deployment (rolled through a checksum of that config), and the binding
// Secret applications mount (servicebinding.io keys plus the environment
// warren's own producer and consumer read). Pure functions of the pipeline
// and of what the controller resolved.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "api/offload_pipeline.h"

namespace warren::builders {

inline constexpr const char* kOffloadPipelineLabel = "warren.dev/offload-pipeline";
inline constexpr int kCoordinatorMetricsPort = 9464;

// What the controller looked up for a pipeline, credentials included.
struct PipelineEndpoints {
  std::string amqp_host;  // the BrokerCluster's client Service DNS name
  int amqp_port = 5672;
  std::string username;
  std::string password;
  std::string s3_access_key;
  std::string s3_secret_key;
  std::string database_uri;
};

// "amqp://user:pass@host:port/" with both percent-encoded; without
// credentials when `username` is empty.
std::string amqpUri(const std::string& host, int port, const std::string& username, const std::string& password);

nlohmann::json buildCoordinatorConfigSecret(const nlohmann::json& owner, const api::OffloadPipeline& pipeline,
                                            const PipelineEndpoints& endpoints);
// `config_checksum` goes on the pod template, so a new config rolls the pods.
nlohmann::json buildCoordinatorDeployment(const nlohmann::json& owner, const api::OffloadPipeline& pipeline,
                                          const std::string& image, const std::string& config_checksum);
// Credentials (broker user, S3 keys) only when spec.binding.includeCredentials.
nlohmann::json buildBindingSecret(const nlohmann::json& owner, const api::OffloadPipeline& pipeline,
                                  const PipelineEndpoints& endpoints);

}  // namespace warren::builders
