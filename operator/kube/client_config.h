// ClientConfig: everything needed to reach one API server (address, TLS
// material, credentials, default namespace), loaded from kubeconfig files or
// from the in-cluster service-account mount. Every load error names the file
// and the field at fault so a broken kubeconfig is fixed in one look.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace warren::kube {

struct TlsConfig {
  std::string ca_pem;           // empty: the system trust store
  std::string client_cert_pem;  // with client_key_pem: mutual TLS
  std::string client_key_pem;
  bool insecure_skip_verify = false;
};

// A client-go exec credential plugin (client.authentication.k8s.io).
struct ExecConfig {
  std::string api_version;
  std::string command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string working_dir;  // the kubeconfig's directory: relative commands resolve here
};

struct AuthConfig {
  std::string token;       // a static bearer token
  std::string token_file;  // re-read periodically (service-account tokens rotate)
  std::optional<ExecConfig> exec;
};

struct ClientConfig {
  std::string server;  // https://host:port
  TlsConfig tls;
  AuthConfig auth;
  std::string default_namespace = "default";
  // Where this came from, for messages: "kubeconfig /path (context ctx)".
  std::string origin;
};

// Loads kubeconfig files, merged the way kubectl merges them (the first file
// to define a name or current-context wins). `context` overrides
// current-context when not empty. Error reason: "InvalidConfig".
Result<ClientConfig> loadKubeconfig(const std::vector<std::string>& paths,
                                    std::string_view context = {});

// Parses one kubeconfig given as text. `path` is used in messages and
// `base_dir` resolves relative file references.
Result<ClientConfig> parseKubeconfig(std::string_view text, std::string_view path,
                                     std::string_view base_dir, std::string_view context = {});

// Paths of the in-cluster service-account mount; overridable for tests.
struct InClusterPaths {
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  std::string namespace_file = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
};

bool runningInCluster();
Result<ClientConfig> loadInCluster(const InClusterPaths& paths = {});

// Splits a KUBECONFIG-style list ("a:b:c"), dropping empty entries.
std::vector<std::string> splitKubeconfigList(std::string_view list);

}  // namespace warren::kube

namespace warren::kube {

// Picks the configuration the way kubectl and controller-runtime do:
// `kubeconfig_flag` if given, else $KUBECONFIG, else the in-cluster service
// account, else ~/.kube/config.
Result<ClientConfig> loadDefaultConfig(std::string_view kubeconfig_flag, std::string_view context);

}  // namespace warren::kube
