#include "api/counting_service.h"

#include "api/broker_cluster.h"
#include "api/field_reader.h"

namespace warren::api {

const kube::ResourceType& countingServices() {
  static const kube::ResourceType type{kGroup, kVersion, "CountingService", "countingservices", true};
  return type;
}

Result<CountingService> parseCountingService(const nlohmann::json& object) {
  CountingService service;
  FieldReader root(&object, "");
  static_cast<ObjectIdentity&>(service) = readIdentity(root);
  FieldReader spec = root.object("spec");
  CountingServiceSpec& s = service.spec;
  readClusterRef(spec, s.cluster_name, nullptr);
  spec.read("protocol", s.protocol);
  if (s.protocol != "mqtt" && s.protocol != "amqp") spec.fail("protocol", "must be mqtt or amqp, not \"" + s.protocol + "\"");
  spec.read("intervalSeconds", s.interval_seconds);
  if (spec.ok() && (s.interval_seconds < 1 || s.interval_seconds > 3600)) {
    spec.fail("intervalSeconds", "must be between 1 and 3600");
  }
  spec.read("serviceImage", s.service_image);
  if (s.service_image.empty()) spec.fail("serviceImage", "must not be empty");
  spec.read("clientImage", s.client_image);
  if (s.client_image.empty()) spec.fail("clientImage", "must not be empty");
  spec.readObject("resources", s.resources);
  // What warren wrote itself; a wrong type here is not the user's spec but is still reported.
  FieldReader status = root.object("status");
  status.read("startTime", service.start_time);
  if (!root.ok()) return root.status().error();
  return service;
}

}  // namespace warren::api
