// The restricted Pod Security Standard for the programs warren runs beside
// the brokers (counting pair, offload coordinator): non-root, no privilege
// escalation, no capabilities, a read-only root filesystem and the
// runtime's default seccomp profile. They need nothing more. RabbitMQ's own
// containers (the brokers and the Job that forgets departed nodes) meet the
// same standard as the image's rabbitmq user (uid 999), with a writable root
// filesystem since the Erlang VM and the CLI tools write beside it.
#pragma once

#include <nlohmann/json.hpp>

namespace warren::builders {

nlohmann::json restrictedPodSecurity();
nlohmann::json restrictedContainerSecurity();
nlohmann::json brokerPodSecurity();
nlohmann::json brokerContainerSecurity();

}  // namespace warren::builders
