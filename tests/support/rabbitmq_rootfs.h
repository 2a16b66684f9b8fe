// RabbitMQ 4.0.5 for tests: the Debian trixie root filesystem that
// hack/build-rabbitmq-rootfs.sh builds, and the command line that runs a
// program chrooted into it, in a private mount namespace (its bind mounts of
// /proc, /sys and the node's own directory vanish with the process).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace warren::testing {

// Where each node's own directory appears inside the root filesystem.
inline constexpr const char* kRabbitmqNodeMount = "/warren-node";
inline constexpr const char* kRabbitmqServer = "/usr/lib/rabbitmq/bin/rabbitmq-server";

// $WARREN_RABBITMQ_ROOTFS, else ~/.cache/warren/rootfs/rabbitmq-4.0.5.
std::filesystem::path rabbitmqRootfs();
// True when `rootfs` was built completely.
bool rabbitmqRootfsReady(const std::filesystem::path& rootfs);

// `command` (run with an empty environment plus `env`) chrooted into
// `rootfs`, with `node_dir` at kRabbitmqNodeMount.
std::vector<std::string> chrootedCommand(const std::filesystem::path& rootfs, const std::filesystem::path& node_dir,
                                         const std::vector<std::string>& env, const std::vector<std::string>& command);

}  // namespace warren::testing
