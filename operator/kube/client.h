// Client: the Kubernetes REST client. It sends what request_builder.h
// builds through an HttpTransport, adding the bearer token, a client-side
// rate limit and error decoding; every failure comes back as an Error with
// the API's status, reason and message. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "kube/client_config.h"
#include "kube/http.h"
#include "kube/interfaces.h"
#include "kube/rate_limiter.h"
#include "kube/token_source.h"
#include "kube/watch_event.h"

namespace warren::kube {

struct ClientOptions {
  // Client-side limit; qps <= 0 (the default, as in controller-runtime since
  // v0.21) disables it and leaves protecting the server to API priority and
  // fairness.
  double qps = -1;
  int burst = 40;
  std::chrono::seconds request_timeout{30};
  std::string user_agent = "warren-operator";
  // A bearer token (static, file or exec plugin) is refused for an http://
  // server unless this is set.
  bool allow_http_bearer = false;
};

// Told about every completed request (metrics).
using RequestObserver =
    std::function<void(std::string_view verb, int http_status, std::chrono::duration<double>)>;

class Client : public ObjectClient {
 public:
  Client(HttpTransportPtr transport, std::shared_ptr<TokenSource> tokens,
         ClientOptions options = {});

  // Builds the cpprestsdk transport and token source from a loaded config.
  static Result<std::shared_ptr<Client>> fromConfig(const ClientConfig& config,
                                                    ClientOptions options = {});

  void setObserver(RequestObserver observer) { observer_ = std::move(observer); }

  // Another client on the same transport and credentials, with its own
  // rate limit, observer and write fence (none).
  std::shared_ptr<Client> sibling(ClientOptions options) const {
    return std::make_shared<Client>(transport_, tokens_, std::move(options));
  }

  // A write fence: asked before every request that is not a read (GET);
  // when it answers false the request is not sent and the call fails with
  // reason "LeadershipLost". Leader election sets it so that a process that
  // no longer holds the lease (paused, partitioned) writes nothing, even
  // from a reconcile that was already running. Set before use.
  void setWriteFence(std::function<bool()> may_write) { may_write_ = std::move(may_write); }

  // Sends a built request; a 2xx body is parsed as JSON, anything else is
  // returned as an Error. GETs are retried once on a connection failure
  // (a stale pooled connection) and any request once after a 401 with a
  // freshly read token.
  Result<nlohmann::json> call(const HttpRequest& request);

  Result<nlohmann::json> serverVersion();

  // ObjectReader
  Result<nlohmann::json> get(const ResourceType& type, std::string_view ns,
                             std::string_view name) override;
  Result<nlohmann::json> list(const ResourceType& type, std::string_view ns,
                              const ListOptions& options) override;
  // Follows continue tokens; returns the List with every page's items.
  Result<nlohmann::json> listAll(const ResourceType& type, std::string_view ns,
                                 ListOptions options);
  Result<nlohmann::json> getSubresource(const ResourceType& type, std::string_view ns,
                                        std::string_view name, std::string_view subresource);

  // ObjectWriter
  Result<nlohmann::json> create(const ResourceType& type, std::string_view ns,
                                const nlohmann::json& object, const WriteOptions& options) override;
  Result<nlohmann::json> update(const ResourceType& type, std::string_view ns,
                                const nlohmann::json& object, const WriteOptions& options) override;
  Result<nlohmann::json> apply(const ResourceType& type, std::string_view ns,
                               const nlohmann::json& object, const ApplyOptions& options) override;
  Result<nlohmann::json> patch(const ResourceType& type, std::string_view ns, std::string_view name,
                               PatchType patch_type, const nlohmann::json& patch,
                               const WriteOptions& options) override;
  Result<nlohmann::json> remove(const ResourceType& type, std::string_view ns,
                                std::string_view name, const DeleteOptions& options) override;

  // StatusWriter
  Result<nlohmann::json> updateStatus(const ResourceType& type, std::string_view ns,
                                      const nlohmann::json& object,
                                      const WriteOptions& options) override;
  Result<nlohmann::json> applyStatus(const ResourceType& type, std::string_view ns,
                                     const nlohmann::json& object,
                                     const ApplyOptions& options) override;
  Result<nlohmann::json> patchStatus(const ResourceType& type, std::string_view ns,
                                     std::string_view name, PatchType patch_type,
                                     const nlohmann::json& patch,
                                     const WriteOptions& options) override;

  // Scale subresource.
  Result<nlohmann::json> getScale(const ResourceType& type, std::string_view ns,
                                  std::string_view name);
  Result<nlohmann::json> updateScale(const ResourceType& type, std::string_view ns,
                                     std::string_view name, const nlohmann::json& scale);

  // Called for each event; return false to end the watch.
  using WatchHandler = std::function<bool(WatchEvent& event)>;
  // Runs one watch until the server ends it (Ok), the handler returns false
  // (Ok), `cancel` fires (Ok), or it fails: a non-2xx answer or an in-stream
  // ERROR event becomes its Error (410 Expired included), a line that is
  // not a watch event becomes "MalformedWatchEvent".
  Status watch(const ResourceType& type, std::string_view ns, const WatchOptions& options,
               const WatchHandler& handler, Cancellation& cancel);

 private:
  Result<HttpResponse> sendOnce(const HttpRequest& request);
  void observe(const HttpRequest& request, int status, std::chrono::steady_clock::time_point start);
  Result<std::string> bearer();

  HttpTransportPtr transport_;
  std::shared_ptr<TokenSource> tokens_;
  ClientOptions options_;
  TokenBucket limiter_;
  RequestObserver observer_;
  std::function<bool()> may_write_;
};

}  // namespace warren::kube
