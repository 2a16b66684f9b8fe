#include "kube/client.h"

#include "common/log.h"

#include "kube/api_error.h"
#include "kube/cpprest_transport.h"

namespace warren::kube {
namespace {

bool isSuccess(int status) { return status >= 200 && status < 300; }

Result<nlohmann::json> parseBody(const HttpResponse& response) {
  if (response.body.empty()) return nlohmann::json::object();
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return Error{response.status, "InvalidResponse", "response body is not JSON"};
  }
  return body;
}

}  // namespace

std::string objectName(const nlohmann::json& object) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return {};
  return metadata->value("name", "");
}

std::string objectNamespace(const nlohmann::json& object) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return {};
  return metadata->value("namespace", "");
}

Client::Client(HttpTransportPtr transport, std::shared_ptr<TokenSource> tokens,
               ClientOptions options)
    : transport_(std::move(transport)),
      tokens_(std::move(tokens)),
      options_(std::move(options)),
      limiter_(options_.qps, options_.burst) {}

Result<std::shared_ptr<Client>> Client::fromConfig(const ClientConfig& config,
                                                   ClientOptions options) {
  const bool bearer = !config.auth.token.empty() || !config.auth.token_file.empty() || config.auth.exec.has_value();
  if (bearer && config.server.rfind("http://", 0) == 0 && !options.allow_http_bearer) {
    return Error::local("InvalidConfig", "server " + config.server +
                                             " is plain http:// and the credentials are a bearer token, which would "
                                             "travel unencrypted; use https:// (or --allow-http-bearer for a test server)");
  }
  if (config.tls.insecure_skip_verify) {
    log::warn("TLS certificate verification is OFF (insecure-skip-tls-verify): anyone on the network path can "
              "impersonate the API server and read every credential warren sends",
              {log::Field("server", config.server)});
  }
  auto transport = CpprestTransport::create(config.server, config.tls, options.request_timeout,
                                            options.user_agent);
  if (!transport) return transport.error();
  return std::make_shared<Client>(*transport, makeTokenSource(config.auth), std::move(options));
}

Result<std::string> Client::bearer() {
  if (!tokens_) return std::string();
  return tokens_->token();
}

void Client::observe(const HttpRequest& request, int status,
                     std::chrono::steady_clock::time_point start) {
  if (observer_) {
    observer_(request.verb, status,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start));
  }
}

Result<HttpResponse> Client::sendOnce(const HttpRequest& request) {
  auto token = bearer();
  if (!token) return token.error();
  HttpRequest authorized = request;
  if (!token->empty()) authorized.headers.emplace_back("Authorization", "Bearer " + *token);
  limiter_.acquire();
  const auto start = std::chrono::steady_clock::now();
  auto response = transport_->send(authorized);
  observe(request, response ? response->status : 0, start);
  return response;
}

Result<nlohmann::json> Client::call(const HttpRequest& request) {
  if (request.method != "GET" && may_write_ && !may_write_()) {
    return Error::local("LeadershipLost", "not sent: this process no longer holds the leader lease");
  }
  auto response = sendOnce(request);
  if (!response && request.method == "GET") response = sendOnce(request);
  if (response && response->status == 401 && tokens_) {
    tokens_->invalidate();
    response = sendOnce(request);
  }
  if (!response) return response.error();
  if (!isSuccess(response->status)) return decodeApiError(*response);
  return parseBody(*response);
}

Result<nlohmann::json> Client::serverVersion() { return call(requests::getPath("/version")); }

Result<nlohmann::json> Client::get(const ResourceType& type, std::string_view ns,
                                   std::string_view name) {
  return call(requests::get(type, ns, name));
}

Result<nlohmann::json> Client::getSubresource(const ResourceType& type, std::string_view ns,
                                              std::string_view name, std::string_view subresource) {
  return call(requests::get(type, ns, name, subresource));
}

Result<nlohmann::json> Client::list(const ResourceType& type, std::string_view ns,
                                    const ListOptions& options) {
  return call(requests::list(type, ns, options));
}

Result<nlohmann::json> Client::listAll(const ResourceType& type, std::string_view ns,
                                       ListOptions options) {
  // Every page of a paginated list is served from the same snapshot, so the
  // first page's resourceVersion is the whole list's.
  nlohmann::json merged;
  while (true) {
    auto page = list(type, ns, options);
    if (!page) return page.error();
    std::string next;
    if (auto metadata = page->find("metadata"); metadata != page->end() && metadata->is_object()) {
      next = metadata->value("continue", "");
    }
    if (merged.is_null()) {
      merged = std::move(*page);
      if (!merged["items"].is_array()) merged["items"] = nlohmann::json::array();
    } else if (auto items = page->find("items"); items != page->end() && items->is_array()) {
      for (auto& item : *items) merged["items"].push_back(std::move(item));
    }
    if (next.empty()) break;
    options.continue_token = std::move(next);
  }
  merged["metadata"].erase("continue");
  return merged;
}

Result<nlohmann::json> Client::create(const ResourceType& type, std::string_view ns,
                                      const nlohmann::json& object, const WriteOptions& options) {
  return call(requests::create(type, ns, object, options));
}

Result<nlohmann::json> Client::update(const ResourceType& type, std::string_view ns,
                                      const nlohmann::json& object, const WriteOptions& options) {
  return call(requests::update(type, ns, objectName(object), object, options));
}

Result<nlohmann::json> Client::apply(const ResourceType& type, std::string_view ns,
                                     const nlohmann::json& object, const ApplyOptions& options) {
  return call(requests::apply(type, ns, objectName(object), object, options));
}

Result<nlohmann::json> Client::patch(const ResourceType& type, std::string_view ns,
                                     std::string_view name, PatchType patch_type,
                                     const nlohmann::json& patch, const WriteOptions& options) {
  return call(requests::patch(type, ns, name, patch_type, patch, options));
}

Result<nlohmann::json> Client::remove(const ResourceType& type, std::string_view ns,
                                      std::string_view name, const DeleteOptions& options) {
  return call(requests::remove(type, ns, name, options));
}

Result<nlohmann::json> Client::updateStatus(const ResourceType& type, std::string_view ns,
                                            const nlohmann::json& object,
                                            const WriteOptions& options) {
  return call(requests::update(type, ns, objectName(object), object, options, "status"));
}

Result<nlohmann::json> Client::applyStatus(const ResourceType& type, std::string_view ns,
                                           const nlohmann::json& object,
                                           const ApplyOptions& options) {
  return call(requests::apply(type, ns, objectName(object), object, options, "status"));
}

Result<nlohmann::json> Client::patchStatus(const ResourceType& type, std::string_view ns,
                                           std::string_view name, PatchType patch_type,
                                           const nlohmann::json& patch,
                                           const WriteOptions& options) {
  return call(requests::patch(type, ns, name, patch_type, patch, options, "status"));
}

Result<nlohmann::json> Client::getScale(const ResourceType& type, std::string_view ns,
                                        std::string_view name) {
  return getSubresource(type, ns, name, "scale");
}

Result<nlohmann::json> Client::updateScale(const ResourceType& type, std::string_view ns,
                                           std::string_view name, const nlohmann::json& scale) {
  return call(requests::update(type, ns, name, scale, {}, "scale"));
}

Status Client::watch(const ResourceType& type, std::string_view ns, const WatchOptions& options,
                     const WatchHandler& handler, Cancellation& cancel) {
  const HttpRequest request = requests::watch(type, ns, options);
  auto token = bearer();
  if (!token) return token.error();
  HttpRequest authorized = request;
  if (!token->empty()) authorized.headers.emplace_back("Authorization", "Bearer " + *token);
  limiter_.acquire();
  // The connection may be silent for the whole watch: allow a margin.
  const int server_timeout = options.timeout_seconds > 0 ? options.timeout_seconds : 1800;
  const int idle_timeout = server_timeout + 30;

  std::optional<Error> stream_error;
  const auto start = std::chrono::steady_clock::now();
  auto response = transport_->stream(
      authorized, idle_timeout,
      [&](std::string_view line) {
        auto event = parseWatchEvent(line);
        if (!event) {
          stream_error = event.error();
          return false;
        }
        if (event->type == WatchEventType::kError) {
          stream_error = decodeStatusObject(event->object, 500);
          return false;
        }
        return handler(*event);
      },
      cancel);
  observe(request, response ? response->status : 0, start);
  if (!response) return response.error();
  if (response->status == 401 && tokens_) tokens_->invalidate();
  if (!isSuccess(response->status)) return decodeApiError(*response);
  if (stream_error) return *stream_error;
  return okStatus();
}

}  // namespace warren::kube
