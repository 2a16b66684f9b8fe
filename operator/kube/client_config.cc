#include "kube/client_config.h"

#include <cstdlib>
#include <map>

#include <yaml-cpp/yaml.h>

#include "kube/tls_material.h"

namespace warren::kube {
namespace {

constexpr std::string_view kInvalid = "InvalidConfig";

// One named entry of a kubeconfig list, remembered with where it came from.
struct Entry {
  YAML::Node body;
  std::string file;
  std::string field;  // e.g. "clusters[2].cluster"
  std::string base_dir;
};

struct Merged {
  std::map<std::string, Entry> clusters, users, contexts;
  std::string current_context;
  std::string current_context_file;
};

Error invalid(std::string_view file, std::string_view field, std::string_view what) {
  std::string message = "kubeconfig ";
  message += file;
  if (!field.empty()) message.append(": ").append(field);
  message.append(": ").append(what);
  return Error::local(std::string(kInvalid), std::move(message));
}

std::string dirName(std::string_view path) {
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::string resolvePath(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  return base_dir + "/" + path;
}

// Reads an optional string field; an error when present with another type.
Result<std::string> optionalString(const YAML::Node& map, const char* key,
                                   const std::string& file, const std::string& field) {
  const YAML::Node node = map[key];
  if (!node || node.IsNull()) return std::string();
  if (!node.IsScalar()) return invalid(file, field + "." + key, "must be a string");
  return node.as<std::string>();
}

Status collectEntries(const YAML::Node& root, const char* list_key, const char* body_key,
                      const std::string& file, const std::string& base_dir,
                      std::map<std::string, Entry>& into) {
  const YAML::Node list = root[list_key];
  if (!list || list.IsNull()) return okStatus();
  if (!list.IsSequence()) return invalid(file, list_key, "must be a list");
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string field = std::string(list_key) + "[" + std::to_string(i) + "]";
    const YAML::Node item = list[i];
    if (!item.IsMap()) return invalid(file, field, "must be a map with name and " + std::string(body_key));
    const YAML::Node name = item["name"];
    if (!name || !name.IsScalar() || name.as<std::string>().empty()) {
      return invalid(file, field + ".name", "is required");
    }
    const YAML::Node body = item[body_key];
    if (!body || !body.IsMap()) {
      return invalid(file, field + "." + body_key, "is required and must be a map");
    }
    // The first file to define a name wins, as with kubectl.
    into.try_emplace(name.as<std::string>(),
                     Entry{body, file, field + "." + body_key, base_dir});
  }
  return okStatus();
}

Status mergeFile(std::string_view text, const std::string& file, const std::string& base_dir,
                 Merged& merged) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return invalid(file, "", "not valid YAML: line " + std::to_string(e.mark.line + 1) + ": " +
                                 e.msg);
  }
  if (!root || root.IsNull()) return okStatus();  // an empty file adds nothing
  if (!root.IsMap()) return invalid(file, "", "top level must be a map");
  if (auto kind = root["kind"]; kind && kind.IsScalar() && kind.as<std::string>() != "Config") {
    return invalid(file, "kind", "must be Config, not " + kind.as<std::string>());
  }
  if (auto s = collectEntries(root, "clusters", "cluster", file, base_dir, merged.clusters); !s) return s;
  if (auto s = collectEntries(root, "users", "user", file, base_dir, merged.users); !s) return s;
  if (auto s = collectEntries(root, "contexts", "context", file, base_dir, merged.contexts); !s) return s;
  auto current = optionalString(root, "current-context", file, "");
  if (!current) return invalid(file, "current-context", "must be a string");
  if (merged.current_context.empty() && !current->empty()) {
    merged.current_context = *current;
    merged.current_context_file = file;
  }
  return okStatus();
}

// Reads inline *-data (base64) or a file reference into `out`.
Status loadMaterial(const Entry& entry, const char* data_key, const char* file_key,
                    std::string& out) {
  auto data = optionalString(entry.body, data_key, entry.file, entry.field);
  if (!data) return data.error();
  auto path = optionalString(entry.body, file_key, entry.file, entry.field);
  if (!path) return path.error();
  if (!data->empty()) {
    auto decoded = base64Decode(*data);
    if (!decoded) {
      return invalid(entry.file, entry.field + "." + data_key,
                     "not valid base64 (" + decoded.error().message + ")");
    }
    out = std::move(*decoded);
  } else if (!path->empty()) {
    const std::string resolved = resolvePath(entry.base_dir, *path);
    auto contents = readFile(resolved);
    if (!contents) {
      return invalid(entry.file, entry.field + "." + file_key, "cannot read " + resolved);
    }
    out = std::move(*contents);
  }
  return okStatus();
}

Status loadCluster(const Entry& entry, ClientConfig& config) {
  auto server = optionalString(entry.body, "server", entry.file, entry.field);
  if (!server) return server.error();
  if (server->empty()) return invalid(entry.file, entry.field + ".server", "is required");
  if (server->rfind("https://", 0) != 0 && server->rfind("http://", 0) != 0) {
    return invalid(entry.file, entry.field + ".server",
                   "must be an http:// or https:// URL, got \"" + *server + "\"");
  }
  const std::string host_part = server->substr(server->find("://") + 3);
  if (host_part.empty() || host_part.front() == '/' || host_part.front() == ':') {
    return invalid(entry.file, entry.field + ".server", "has no host");
  }
  config.server = *server;
  while (!config.server.empty() && config.server.back() == '/') config.server.pop_back();

  if (auto s = loadMaterial(entry, "certificate-authority-data", "certificate-authority",
                            config.tls.ca_pem);
      !s) {
    return s;
  }
  if (!config.tls.ca_pem.empty()) {
    auto certs = parseCertificates(config.tls.ca_pem);
    if (!certs) {
      return invalid(entry.file, entry.field + ".certificate-authority-data",
                     certs.error().message);
    }
  }
  if (const YAML::Node insecure = entry.body["insecure-skip-tls-verify"]; insecure) {
    bool value = false;
    if (!insecure.IsScalar() || !YAML::convert<bool>::decode(insecure, value)) {
      return invalid(entry.file, entry.field + ".insecure-skip-tls-verify", "must be true or false");
    }
    config.tls.insecure_skip_verify = value;
    if (value && !config.tls.ca_pem.empty()) {
      return invalid(entry.file, entry.field + ".insecure-skip-tls-verify",
                     "cannot be combined with a certificate authority");
    }
  }
  if (entry.body["proxy-url"]) {
    return invalid(entry.file, entry.field + ".proxy-url", "proxies are not supported");
  }
  if (auto name = optionalString(entry.body, "tls-server-name", entry.file, entry.field);
      !name || !name->empty()) {
    return invalid(entry.file, entry.field + ".tls-server-name", "is not supported");
  }
  return okStatus();
}

Result<ExecConfig> loadExec(const Entry& entry) {
  const std::string field = entry.field + ".exec";
  const YAML::Node exec = entry.body["exec"];
  if (!exec.IsMap()) return invalid(entry.file, field, "must be a map");
  ExecConfig out;
  out.working_dir = entry.base_dir;
  auto command = optionalString(exec, "command", entry.file, field);
  if (!command) return command.error();
  if (command->empty()) return invalid(entry.file, field + ".command", "is required");
  out.command = *command;
  auto api_version = optionalString(exec, "apiVersion", entry.file, field);
  if (!api_version) return api_version.error();
  if (*api_version != "client.authentication.k8s.io/v1" &&
      *api_version != "client.authentication.k8s.io/v1beta1") {
    return invalid(entry.file, field + ".apiVersion",
                   "must be client.authentication.k8s.io/v1 or v1beta1, got \"" + *api_version +
                       "\"");
  }
  out.api_version = *api_version;
  if (const YAML::Node args = exec["args"]; args && !args.IsNull()) {
    if (!args.IsSequence()) return invalid(entry.file, field + ".args", "must be a list of strings");
    for (size_t i = 0; i < args.size(); ++i) {
      if (!args[i].IsScalar()) {
        return invalid(entry.file, field + ".args[" + std::to_string(i) + "]", "must be a string");
      }
      out.args.push_back(args[i].as<std::string>());
    }
  }
  if (const YAML::Node env = exec["env"]; env && !env.IsNull()) {
    if (!env.IsSequence()) return invalid(entry.file, field + ".env", "must be a list");
    for (size_t i = 0; i < env.size(); ++i) {
      const std::string item = field + ".env[" + std::to_string(i) + "]";
      if (!env[i].IsMap() || !env[i]["name"] || !env[i]["name"].IsScalar() ||
          !env[i]["value"] || !env[i]["value"].IsScalar()) {
        return invalid(entry.file, item, "must have string name and value");
      }
      out.env.emplace_back(env[i]["name"].as<std::string>(), env[i]["value"].as<std::string>());
    }
  }
  return out;
}

Status loadUser(const Entry& entry, ClientConfig& config) {
  for (const char* unsupported : {"username", "password"}) {
    if (entry.body[unsupported]) {
      return invalid(entry.file, entry.field + "." + unsupported,
                     "basic authentication was removed from Kubernetes; use a token or client "
                     "certificate");
    }
  }
  if (entry.body["auth-provider"]) {
    return invalid(entry.file, entry.field + ".auth-provider",
                   "auth-provider plugins were removed from Kubernetes; use exec");
  }
  if (auto s = loadMaterial(entry, "client-certificate-data", "client-certificate",
                            config.tls.client_cert_pem);
      !s) {
    return s;
  }
  if (auto s = loadMaterial(entry, "client-key-data", "client-key", config.tls.client_key_pem); !s) {
    return s;
  }
  const bool has_cert = !config.tls.client_cert_pem.empty();
  const bool has_key = !config.tls.client_key_pem.empty();
  if (has_cert != has_key) {
    return invalid(entry.file, entry.field + (has_cert ? ".client-key-data" : ".client-certificate-data"),
                   "a client certificate and key must be given together");
  }
  if (has_cert) {
    if (auto certs = parseCertificates(config.tls.client_cert_pem); !certs) {
      return invalid(entry.file, entry.field + ".client-certificate-data", certs.error().message);
    }
    if (auto key = parsePrivateKey(config.tls.client_key_pem); !key) {
      return invalid(entry.file, entry.field + ".client-key-data", key.error().message);
    }
  }
  auto token = optionalString(entry.body, "token", entry.file, entry.field);
  if (!token) return token.error();
  config.auth.token = *token;
  auto token_file = optionalString(entry.body, "tokenFile", entry.file, entry.field);
  if (!token_file) return token_file.error();
  if (!token_file->empty()) {
    config.auth.token_file = resolvePath(entry.base_dir, *token_file);
    if (auto contents = readFile(config.auth.token_file); !contents) {
      return invalid(entry.file, entry.field + ".tokenFile", "cannot read " + config.auth.token_file);
    }
  }
  if (entry.body["exec"]) {
    auto exec = loadExec(entry);
    if (!exec) return exec.error();
    config.auth.exec = std::move(*exec);
  }
  return okStatus();
}

Result<ClientConfig> resolve(const Merged& merged, std::string_view context_override,
                             const std::string& files) {
  std::string context_name(context_override);
  std::string context_source = "--context";
  if (context_name.empty()) {
    context_name = merged.current_context;
    context_source = "current-context";
    if (context_name.empty()) {
      return invalid(files, "current-context", "is not set (and no --context was given)");
    }
  }
  const auto context_it = merged.contexts.find(context_name);
  if (context_it == merged.contexts.end()) {
    const std::string& file = context_source == "current-context" ? merged.current_context_file : files;
    return invalid(file, context_source, "names context \"" + context_name + "\", which does not exist");
  }
  const Entry& context = context_it->second;
  ClientConfig config;
  config.origin = "kubeconfig " + context.file + " (context " + context_name + ")";

  auto cluster_name = optionalString(context.body, "cluster", context.file, context.field);
  if (!cluster_name) return cluster_name.error();
  if (cluster_name->empty()) return invalid(context.file, context.field + ".cluster", "is required");
  const auto cluster_it = merged.clusters.find(*cluster_name);
  if (cluster_it == merged.clusters.end()) {
    return invalid(context.file, context.field + ".cluster",
                   "names cluster \"" + *cluster_name + "\", which does not exist");
  }
  if (auto status = loadCluster(cluster_it->second, config); !status) return status.error();

  auto user_name = optionalString(context.body, "user", context.file, context.field);
  if (!user_name) return user_name.error();
  if (!user_name->empty()) {
    const auto user_it = merged.users.find(*user_name);
    if (user_it == merged.users.end()) {
      return invalid(context.file, context.field + ".user",
                     "names user \"" + *user_name + "\", which does not exist");
    }
    if (auto status = loadUser(user_it->second, config); !status) return status.error();
  }
  auto ns = optionalString(context.body, "namespace", context.file, context.field);
  if (!ns) return ns.error();
  if (!ns->empty()) config.default_namespace = *ns;
  return config;
}

}  // namespace

std::vector<std::string> splitKubeconfigList(std::string_view list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t end = std::min(list.find(':', start), list.size());
    if (end > start) out.emplace_back(list.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

Result<ClientConfig> parseKubeconfig(std::string_view text, std::string_view path,
                                     std::string_view base_dir, std::string_view context) {
  Merged merged;
  const std::string file(path);
  if (auto status = mergeFile(text, file, std::string(base_dir), merged); !status) {
    return status.error();
  }
  return resolve(merged, context, file);
}

Result<ClientConfig> loadKubeconfig(const std::vector<std::string>& paths,
                                    std::string_view context) {
  if (paths.empty()) return Error::local(std::string(kInvalid), "no kubeconfig file given");
  Merged merged;
  std::string files;
  for (const auto& path : paths) {
    auto text = readFile(path);
    if (!text) return invalid(path, "", "cannot be read (missing or not readable)");
    if (auto status = mergeFile(*text, path, dirName(path), merged); !status) {
      return status.error();
    }
    files += files.empty() ? path : "," + path;
  }
  return resolve(merged, context, files);
}

bool runningInCluster() {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  return host != nullptr && *host != '\0' && port != nullptr && *port != '\0';
}

Result<ClientConfig> loadInCluster(const InClusterPaths& paths) {
  if (!runningInCluster()) {
    return Error::local(std::string(kInvalid),
                        "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
  }
  std::string host = std::getenv("KUBERNETES_SERVICE_HOST");
  if (host.find(':') != std::string::npos) host = "[" + host + "]";  // IPv6
  ClientConfig config;
  config.origin = "in-cluster service account";
  config.server = "https://" + host + ":" + std::getenv("KUBERNETES_SERVICE_PORT");
  auto ca = readFile(paths.ca_file);
  if (!ca) return Error::local(std::string(kInvalid), "in-cluster: cannot read CA " + paths.ca_file);
  if (auto certs = parseCertificates(*ca); !certs) {
    return Error::local(std::string(kInvalid),
                        "in-cluster: CA " + paths.ca_file + ": " + certs.error().message);
  }
  config.tls.ca_pem = std::move(*ca);
  if (auto token = readFile(paths.token_file); !token) {
    return Error::local(std::string(kInvalid), "in-cluster: cannot read token " + paths.token_file);
  }
  config.auth.token_file = paths.token_file;
  if (auto ns = readFile(paths.namespace_file); ns && !ns->empty()) {
    std::string value = *ns;
    while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
    config.default_namespace = value;
  }
  return config;
}

}  // namespace warren::kube

namespace warren::kube {

Result<ClientConfig> loadDefaultConfig(std::string_view kubeconfig_flag, std::string_view context) {
  if (!kubeconfig_flag.empty()) return loadKubeconfig({std::string(kubeconfig_flag)}, context);
  if (const char* env = std::getenv("KUBECONFIG"); env != nullptr && *env != '\0') {
    return loadKubeconfig(splitKubeconfigList(env), context);
  }
  if (runningInCluster() && context.empty()) return loadInCluster();
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') {
    return Error::local("InvalidConfig",
                        "no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a cluster");
  }
  return loadKubeconfig({std::string(home) + "/.kube/config"}, context);
}

}  // namespace warren::kube
