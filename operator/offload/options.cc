#include "offload/options.h"

#include <algorithm>
#include <cstdlib>

#include "common/log.h"
#include "offload/topology.h"

namespace warren::offload {
namespace {

Error invalid(const std::string& flag, const std::string& what) {
  return Error::local("InvalidConfig", "--" + flag + ": " + what);
}

bool isDigits(const std::string& text) {
  return !text.empty() && text.size() <= 18 && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

Result<Flags> Flags::parse(int argc, char** argv, const std::vector<std::string>& known,
                           const std::vector<std::string>& switches) {
  Flags flags;
  auto listed = [](const std::vector<std::string>& list, const std::string& name) {
    return std::find(list.begin(), list.end(), name) != list.end();
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) return Error::local("InvalidConfig", "unexpected argument '" + arg + "'");
    arg = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    if (listed(switches, arg)) {
      flags.values_[arg] = has_value ? value : "true";
      continue;
    }
    if (!listed(known, arg)) return Error::local("InvalidConfig", "unknown flag --" + arg);
    if (!has_value) {
      if (i + 1 >= argc) return invalid(arg, "needs a value");
      value = argv[++i];
    }
    flags.values_[arg] = value;
  }
  return flags;
}

std::optional<std::string> Flags::get(const std::string& name, const std::vector<std::string>& env) const {
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  for (const auto& variable : env) {
    if (const char* value = std::getenv(variable.c_str()); value != nullptr && *value != '\0') return std::string(value);
  }
  return std::nullopt;
}

std::string Flags::getOr(const std::string& name, const std::string& fallback, const std::vector<std::string>& env) const {
  return get(name, env).value_or(fallback);
}

Result<std::string> Flags::require(const std::string& name, const std::vector<std::string>& env) const {
  if (auto value = get(name, env); value && !value->empty()) return *value;
  std::string hint = env.empty() ? "" : " (or set " + env.front() + ")";
  return invalid(name, "required" + hint);
}

Result<unsigned long long> Flags::bytes(const std::string& name, unsigned long long fallback,
                                       const std::vector<std::string>& env) const {
  auto value = get(name, env);
  if (!value) return fallback;
  std::string text = *value;
  const auto unit_at = text.find_first_not_of("0123456789");
  const std::string number = text.substr(0, unit_at);
  const std::string unit = unit_at == std::string::npos ? "" : text.substr(unit_at);
  static const std::map<std::string, unsigned long long> kUnits = {
      {"", 1},          {"B", 1},           {"KB", 1000ULL},        {"MB", 1000ULL * 1000}, {"GB", 1000ULL * 1000 * 1000},
      {"KiB", 1024ULL}, {"MiB", 1ULL << 20}, {"GiB", 1ULL << 30}, {"K", 1024ULL},         {"M", 1ULL << 20},
      {"G", 1ULL << 30}};
  const auto multiplier = kUnits.find(unit);
  if (!isDigits(number) || multiplier == kUnits.end()) {
    return invalid(name, "'" + text + "' is not a size such as 1048576, 64KiB, 1MB or 8MiB");
  }
  return std::stoull(number) * multiplier->second;
}

Result<long long> Flags::integer(const std::string& name, long long fallback) const {
  auto value = get(name);
  if (!value) return fallback;
  if (!isDigits(*value)) return invalid(name, "'" + *value + "' is not a non-negative integer");
  return std::stoll(*value);
}

Result<std::chrono::milliseconds> Flags::duration(const std::string& name, std::chrono::milliseconds fallback,
                                                  const std::vector<std::string>& env) const {
  auto value = get(name, env);
  if (!value) return fallback;
  const std::string& text = *value;
  const auto unit_at = text.find_first_not_of("0123456789");
  const std::string number = text.substr(0, unit_at);
  const std::string unit = unit_at == std::string::npos ? "s" : text.substr(unit_at);
  static const std::map<std::string, long long> kMillis = {
      {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", 24 * 3600 * 1000}};
  const auto multiplier = kMillis.find(unit);
  if (!isDigits(number) || multiplier == kMillis.end()) {
    return invalid(name, "'" + text + "' is not a duration such as 500ms, 90s, 15m or 24h");
  }
  return std::chrono::milliseconds(std::stoll(number) * multiplier->second);
}

std::vector<std::string> connectionFlags() {
  return {"pipeline", "amqp-uri", "s3-endpoint", "s3-region", "bucket", "s3-ca-file", "s3-part-size",
          "s3-access-key", "s3-secret-key"};
}

Result<Connections> readConnections(const Flags& flags, bool need_s3) {
  Connections connections;
  connections.pipeline = flags.getOr("pipeline", "", {"WARREN_OFFLOAD_PIPELINE"});
  if (!validPipelineName(connections.pipeline)) {
    return invalid("pipeline", "required: a name of [a-z0-9.-], 1-100 characters (or set WARREN_OFFLOAD_PIPELINE)");
  }
  auto uri = flags.require("amqp-uri", {"WARREN_AMQP_URI"});
  if (!uri) return uri.error();
  auto endpoints = amqp::parseUri(*uri);
  if (!endpoints) return invalid("amqp-uri", endpoints.error().message);
  connections.amqp = std::move(*endpoints);
  if (!need_s3) return connections;
  auto endpoint = flags.require("s3-endpoint", {"WARREN_S3_ENDPOINT"});
  if (!endpoint) return endpoint.error();
  connections.s3.endpoint = *endpoint;
  connections.s3.region = flags.getOr("s3-region", "us-east-1", {"WARREN_S3_REGION", "AWS_REGION"});
  connections.s3.ca_file = flags.getOr("s3-ca-file", "", {"WARREN_S3_CA_FILE"});
  auto access = flags.require("s3-access-key", {"AWS_ACCESS_KEY_ID"});
  if (!access) return access.error();
  connections.s3.access_key = *access;
  auto secret = flags.require("s3-secret-key", {"AWS_SECRET_ACCESS_KEY"});
  if (!secret) return secret.error();
  connections.s3.secret_key = *secret;
  auto part_size = flags.bytes("s3-part-size", connections.s3.part_size);
  if (!part_size) return part_size.error();
  connections.s3.part_size = *part_size;
  auto bucket = flags.require("bucket", {"WARREN_S3_BUCKET"});
  if (!bucket) return bucket.error();
  connections.bucket = *bucket;
  return connections;
}

Result<ProgramSetup> setUpProgram(int argc, char** argv, std::vector<std::string> extra,
                                  std::vector<std::string> switches) {
  for (const auto& flag : connectionFlags()) extra.push_back(flag);
  extra.push_back("log-format");
  switches.push_back("no-declare");
  auto flags = Flags::parse(argc, argv, extra, switches);
  if (!flags) return flags.error();
  const std::string format = flags->getOr("log-format", "text");
  const auto parsed = log::parseFormat(format);
  if (!parsed) return invalid("log-format", "must be text or json, got '" + format + "'");
  log::configure(log::Level::kInfo, *parsed);
  auto connections = readConnections(*flags);
  if (!connections) return connections.error();
  return ProgramSetup{std::move(*flags), std::move(*connections)};
}

}  // namespace warren::offload
