// Child processes for tests that run real servers and programs: spawn with
// output to a log file (in a process group of their own, so a whole tree
// stops together), stop with a grace period, read their logs, and pick free
// loopback ports.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace warren::testing {

struct SpawnOptions {
  std::filesystem::path output;        // stdout and stderr go here (appended)
  // NAME=VALUE set on top of this process's environment (a later one wins).
  std::vector<std::string> extra_env;
  bool own_group = true;
};

// The child's pid, or -1 (with errno) when it could not start.
pid_t spawnProcess(const std::vector<std::string>& argv, const SpawnOptions& options);
// SIGTERM to the process (its group when it leads one), SIGKILL after
// `grace`, and reaps it. True when it ended by itself within the grace.
bool stopProcess(pid_t pid, std::chrono::milliseconds grace);
// Reaps `pid` if it has exited; true when it is gone.
bool exited(pid_t pid, int* status = nullptr);
// A whole text file ("" when it cannot be read), and its last `max_bytes`
// (for logs quoted in failure messages).
std::string readTextFile(const std::filesystem::path& file);
std::string fileTail(const std::filesystem::path& file, size_t max_bytes = 3000);
// A TCP port on 127.0.0.1 that nothing listens on right now.
int freePort();
// True once something accepts TCP connections on `address`:`port` (IPv4).
bool waitForPort(int port, std::chrono::milliseconds timeout, const std::string& address = "127.0.0.1");

}  // namespace warren::testing
