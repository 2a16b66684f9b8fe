// CountingService (warren.dev/v1alpha1): the typed view of seed 000's
// counting pair, parsed once from the stored object. parseCountingService()
// never throws; a bad field is an InvalidSpec error naming it, reported in
// the Ready condition.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "api/field_reader.h"
#include "common/result.h"
#include "kube/resource.h"

namespace warren::api {

const kube::ResourceType& countingServices();

inline constexpr const char* kDefaultCountingImage = "warren-counting:0.1.0";

struct CountingServiceSpec {
  std::string cluster_name;
  std::string protocol = "mqtt";  // mqtt or amqp
  int interval_seconds = 1;
  std::string service_image = kDefaultCountingImage;
  std::string client_image = kDefaultCountingImage;
  nlohmann::json resources;  // core/v1 ResourceRequirements; null when unset
};

struct CountingService : ObjectIdentity {
  CountingServiceSpec spec;
  std::string start_time;  // status.startTime, "" until set

  std::string configSecretName() const { return name + "-config"; }
};

Result<CountingService> parseCountingService(const nlohmann::json& object);

}  // namespace warren::api
