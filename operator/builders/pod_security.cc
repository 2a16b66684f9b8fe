#include "builders/pod_security.h"

namespace warren::builders {

nlohmann::json restrictedPodSecurity() {
  return {{"runAsNonRoot", true}, {"runAsUser", 65532}, {"runAsGroup", 65532},
          {"seccompProfile", {{"type", "RuntimeDefault"}}}};
}

nlohmann::json restrictedContainerSecurity() {
  return {{"allowPrivilegeEscalation", false}, {"readOnlyRootFilesystem", true},
          {"capabilities", {{"drop", nlohmann::json::array({"ALL"})}}}};
}

nlohmann::json brokerPodSecurity() {
  return {{"fsGroup", 999}, {"runAsUser", 999}, {"runAsGroup", 999}, {"runAsNonRoot", true},
          {"seccompProfile", {{"type", "RuntimeDefault"}}}};
}

nlohmann::json brokerContainerSecurity() {
  return {{"allowPrivilegeEscalation", false}, {"capabilities", {{"drop", nlohmann::json::array({"ALL"})}}}};
}

}  // namespace warren::builders
