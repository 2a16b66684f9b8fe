// HttpTransport over cpprestsdk (Debian's libcpprest-dev). cpprestsdk is
// archived upstream; nothing outside this file and its .cc depends on it.
// TLS material is loaded into OpenSSL from memory for every new connection;
// watches use their own client so their idle timeout can exceed the
// server-side watch timeout.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/result.h"
#include "kube/client_config.h"
#include "kube/http.h"

namespace warren::kube {

class CpprestTransport : public HttpTransport {
 public:
  static Result<std::shared_ptr<CpprestTransport>> create(const std::string& server,
                                                          const TlsConfig& tls,
                                                          std::chrono::seconds request_timeout,
                                                          std::string user_agent);
  ~CpprestTransport() override;

  Result<HttpResponse> send(const HttpRequest& request) override;
  Result<HttpResponse> stream(const HttpRequest& request, int idle_timeout_seconds,
                              const LineHandler& on_line, Cancellation& cancel) override;

  // Sizes cpprestsdk's I/O thread pool (40 threads unless told). Only a
  // program's main calls it, once, before the first transport is created;
  // false (and no change) when the pool already exists.
  static bool setIoThreads(size_t threads);

  // cpprestsdk loads OpenSSL's default trust store (the system bundle, ~140
  // certificates) into every new connection's context before the context
  // callback replaces it with the configured CA. With a configured CA that
  // work is thrown away on every connection and watch restart (at start, 15
  // watches: 1.2 s of CPU and ~9 MiB of heap left fragmented). This points
  // OpenSSL's default certificate file (SSL_CERT_FILE) at an empty one, so
  // the default store is empty. Process-wide: only a main whose kube
  // connections all have a configured CA calls it, before any thread reads
  // the environment. libcurl (offload S3 checks, management API) names its
  // CA file itself and is not affected.
  static void skipDefaultTrustStore();

 private:
  struct Impl;
  explicit CpprestTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace warren::kube
