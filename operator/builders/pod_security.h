// The restricted Pod Security Standard for the programs warren runs beside
// the brokers (counting pair, offload coordinator): non-root, no privilege
// escalation, no capabilities, a read-only root filesystem and the
// runtime's default seccomp profile. They need nothing more.
#pragma once

#include <nlohmann/json.hpp>

namespace warren::builders {

nlohmann::json restrictedPodSecurity();
nlohmann::json restrictedContainerSecurity();

}  // namespace warren::builders
