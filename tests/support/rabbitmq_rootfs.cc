#include "rabbitmq_rootfs.h"

#include <cstdlib>

namespace warren::testing {

std::filesystem::path rabbitmqRootfs() {
  if (const char* configured = std::getenv("WARREN_RABBITMQ_ROOTFS"); configured != nullptr && *configured != '\0') {
    return configured;
  }
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home != nullptr ? home : "/root") / ".cache/warren/rootfs/rabbitmq-4.0.5";
}

bool rabbitmqRootfsReady(const std::filesystem::path& rootfs) {
  return std::filesystem::exists(rootfs / ".ready") &&
         std::filesystem::exists(rootfs / std::filesystem::path(kRabbitmqServer).relative_path());
}

std::vector<std::string> chrootedCommand(const std::filesystem::path& rootfs, const std::filesystem::path& node_dir,
                                         const std::vector<std::string>& env, const std::vector<std::string>& command) {
  const std::string inside = "mount --bind /proc " + (rootfs / "proc").string() + " && mount --bind /sys " +
                             (rootfs / "sys").string() + " && mount --bind " + node_dir.string() + " " +
                             (rootfs / "warren-node").string() + " && exec chroot " + rootfs.string() + " \"$@\"";
  std::vector<std::string> argv = {"/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                                   inside, "node", "/usr/bin/env", "-i", "PATH=/usr/bin:/bin:/usr/sbin:/sbin"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

}  // namespace warren::testing
