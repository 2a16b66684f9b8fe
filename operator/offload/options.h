// Command-line options of the offload programs: `--name value` or
// `--name=value`, each with an environment fallback for what Kubernetes
// injects from Secrets (credentials never need to be on a command line).
// Errors (reason "InvalidConfig") name the flag.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "amqp/connection.h"
#include "common/result.h"
#include "offload/s3_client.h"

namespace warren::offload {

class Flags {
 public:
  // `known` lists the flags the program takes (without "--"); `switches`
  // those that take no value.
  static Result<Flags> parse(int argc, char** argv, const std::vector<std::string>& known,
                             const std::vector<std::string>& switches = {});

  // The flag's value, else the first set environment variable of `env`.
  std::optional<std::string> get(const std::string& name, const std::vector<std::string>& env = {}) const;
  std::string getOr(const std::string& name, const std::string& fallback, const std::vector<std::string>& env = {}) const;
  Result<std::string> require(const std::string& name, const std::vector<std::string>& env = {}) const;
  bool isSet(const std::string& name) const { return values_.count(name) > 0; }
  // "1048576", "64KiB", "1MB", "8MiB", "1GiB" (KB/MB/GB are powers of 1000).
  Result<unsigned long long> bytes(const std::string& name, unsigned long long fallback,
                                   const std::vector<std::string>& env = {}) const;
  Result<long long> integer(const std::string& name, long long fallback) const;
  // "90s", "15m", "24h", "500ms", or plain seconds.
  Result<std::chrono::milliseconds> duration(const std::string& name, std::chrono::milliseconds fallback,
                                             const std::vector<std::string>& env = {}) const;

 private:
  std::map<std::string, std::string> values_;
};

// What every offload program connects to, from flags and environment.
struct Connections {
  std::string pipeline;
  std::vector<amqp::Endpoint> amqp;
  S3Config s3;
  std::string bucket;
};

// Flags: --pipeline, --amqp-uri (WARREN_AMQP_URI), --s3-endpoint
// (WARREN_S3_ENDPOINT), --s3-region, --bucket (WARREN_S3_BUCKET), --s3-ca-file,
// --s3-part-size; credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
// (or --s3-access-key / --s3-secret-key). `need_s3` false skips S3.
Result<Connections> readConnections(const Flags& flags, bool need_s3 = true);
// The flag names readConnections() reads, to pass to Flags::parse.
std::vector<std::string> connectionFlags();

// What every offload program starts from: its flags (the connection flags,
// --log-format and --no-declare, besides `extra` and `switches`) and its
// connections; configures logging from --log-format.
struct ProgramSetup {
  Flags flags;
  Connections connections;
};
Result<ProgramSetup> setUpProgram(int argc, char** argv, std::vector<std::string> extra,
                                  std::vector<std::string> switches);

}  // namespace warren::offload
