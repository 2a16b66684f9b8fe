#include "app/options.h"

#include <charconv>
#include <functional>
#include <map>

namespace warren::app {
namespace {

Error flagError(const std::string& flag, const std::string& what) {
  return Error::local("InvalidFlag", "flag " + flag + ": " + what);
}

template <typename Number>
Status parseNumber(const std::string& flag, const std::string& text, Number& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return flagError(flag, "not a number: \"" + text + "\"");
  }
  return okStatus();
}

}  // namespace

std::string usage() {
  return R"(Usage: warren-operator [flags]

warren runs RabbitMQ clusters on Kubernetes and reroutes their clients when a node fails.

Flags:
  --kubeconfig PATH      kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)
  --context NAME         kubeconfig context to use (default: current-context)
  --namespace NAME       namespace to watch (default: all namespaces)
  --log-level LEVEL      debug, info, warn or error (default: info)
  --log-format FORMAT    text or json (default: text)
  --kube-api-qps N       client-side request rate limit; <= 0 disables it (default: -1,
                         none: the API server's priority and fairness applies)
  --kube-api-burst N     burst above the rate limit when one is set (default: 40)
  --http-bind-address A  address of /healthz, /readyz and /metrics (default: :8080; 0 disables)
  --leader-elect         run controllers only while holding the leader Lease (default: false)
  --allow-http-bearer    allow sending a bearer token to an http:// server (default: refused)
  --leader-election-namespace NS  namespace of the Lease (default: the pod's, else "default")
  --leader-election-id NAME       name of the Lease (default: warren-operator-leader)
  --max-concurrent-reconciles N   workers per controller (default: 2)
  --binding-workers N    workers of the BrokerBinding controller, which reroutes every
                         binding of a cluster at once after a move (default: 4)
  --offload-image IMAGE  image of OffloadPipeline coordinators that name none (default:
                         warren-operator:<version>, the operator's own image)
  --version              print the version and exit
  -h, --help             print this help and exit
)";
}

Result<Options> parseOptions(const std::vector<std::string>& args) {
  Options options;
  using Setter = std::function<Status(const std::string& flag, const std::string& value)>;
  std::map<std::string, Setter> setters = {
      {"--kubeconfig", [&](auto&, auto& v) { options.kubeconfig = v; return okStatus(); }},
      {"--context", [&](auto&, auto& v) { options.context = v; return okStatus(); }},
      {"--namespace", [&](auto&, auto& v) { options.watch_namespace = v; return okStatus(); }},
      {"--log-level",
       [&](auto& f, auto& v) -> Status {
         auto level = log::parseLevel(v);
         if (!level) return flagError(f, "must be debug, info, warn or error, got \"" + v + "\"");
         options.log_level = *level;
         return okStatus();
       }},
      {"--log-format",
       [&](auto& f, auto& v) -> Status {
         auto format = log::parseFormat(v);
         if (!format) return flagError(f, "must be text or json, got \"" + v + "\"");
         options.log_format = *format;
         return okStatus();
       }},
      {"--kube-api-qps", [&](auto& f, auto& v) { return parseNumber(f, v, options.kube_api_qps); }},
      {"--kube-api-burst",
       [&](auto& f, auto& v) -> Status {
         auto status = parseNumber(f, v, options.kube_api_burst);
         if (status && options.kube_api_burst < 1) return flagError(f, "must be at least 1");
         return status;
       }},
  };
  auto positive = [](const std::string& f, const std::string& v, int& out) -> Status {
    auto status = parseNumber(f, v, out);
    if (status && out < 1) return flagError(f, "must be at least 1");
    return status;
  };
  const std::map<std::string, Setter> more = {
      {"--http-bind-address", [&](auto&, auto& v) { options.http_bind_address = v; return okStatus(); }},
      {"--leader-election-namespace",
       [&](auto&, auto& v) { options.leader_election_namespace = v; return okStatus(); }},
      {"--leader-election-id",
       [&](auto& f, auto& v) -> Status {
         if (v.empty()) return flagError(f, "must not be empty");
         options.leader_election_id = v;
         return okStatus();
       }},
      {"--max-concurrent-reconciles",
       [&](auto& f, auto& v) { return positive(f, v, options.max_concurrent_reconciles); }},
      {"--binding-workers", [&](auto& f, auto& v) { return positive(f, v, options.binding_workers); }},
      {"--offload-image",
       [&](auto& f, auto& v) -> Status {
         if (v.empty()) return flagError(f, "must not be empty");
         options.offload_image = v;
         return okStatus();
       }},
  };
  setters.insert(more.begin(), more.end());
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      options.show_help = true;
      continue;
    }
    if (arg == "--version") {
      options.show_version = true;
      continue;
    }
    if (arg == "--leader-elect" || arg == "--leader-elect=true") {
      options.leader_elect = true;
      continue;
    }
    if (arg == "--allow-http-bearer") {
      options.allow_http_bearer = true;
      continue;
    }
    if (arg == "--leader-elect=false") {
      options.leader_elect = false;
      continue;
    }
    std::string flag = arg;
    std::string value;
    bool has_value = false;
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      flag = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    const auto setter = setters.find(flag);
    if (setter == setters.end()) {
      return Error::local("InvalidFlag", "unknown flag " + flag + " (see --help)");
    }
    if (!has_value) {
      if (i + 1 >= args.size()) return flagError(flag, "needs a value");
      value = args[++i];
    }
    if (auto status = setter->second(flag, value); !status) return status.error();
  }
  return options;
}

}  // namespace warren::app
