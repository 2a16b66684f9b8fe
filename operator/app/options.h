// Command-line options of warren-operator and their parsing (pure, so the
// rules are unit-tested).
#pragma once

#include <string>
#include <vector>

#include "common/log.h"
#include "common/result.h"

namespace warren::app {

struct Options {
  std::string kubeconfig;
  std::string context;
  std::string watch_namespace;  // "" = all namespaces
  log::Level log_level = log::Level::kInfo;
  log::Format log_format = log::Format::kText;
  // No client-side limit by default: API priority and fairness protects the
  // API server, and a mass reroute must not queue behind a token bucket.
  double kube_api_qps = -1;
  int kube_api_burst = 40;
  std::string http_bind_address = ":8080";  // /healthz, /readyz, /metrics; "0" disables
  bool leader_elect = false;
  // Sending a bearer token over plain http:// gives it to anyone on the path;
  // refused unless this is set (a loopback test server, say).
  bool allow_http_bearer = false;
  std::string leader_election_namespace;  // default: the in-cluster namespace or "default"
  std::string leader_election_id = "warren-operator-leader";
  int max_concurrent_reconciles = 2;
  // BrokerBinding's own: a move of the active node fans out to every binding
  // of the cluster at once, each a few API round trips that mostly wait on the
  // API server, so more of them run side by side than for other kinds. More
  // than 4 measured no faster against a 2-core API server (README, reroute
  // benchmark); a bigger control plane may take more.
  int binding_workers = 4;
  std::string offload_image;  // "" = api::kDefaultOffloadImage
  bool show_help = false;
  bool show_version = false;
};

// Accepts --flag=value and --flag value. Error reason "InvalidFlag".
Result<Options> parseOptions(const std::vector<std::string>& args);
std::string usage();

}  // namespace warren::app
