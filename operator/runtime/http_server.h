// A minimal HTTP/1.1 server for the operator's own endpoints (/healthz,
// /readyz, /metrics): GET only, one short request per connection, served
// from one thread. Handlers must be quick and must never block; they read
// state that others keep current. (cpprestsdk's listener is not meant for
// production use, so it is not used here.)
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "common/result.h"

namespace warren::runtime {

struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};
using HttpHandler = std::function<HttpReply()>;

class HttpServer {
 public:
  HttpServer() = default;
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void handle(const std::string& path, HttpHandler handler);
  // "host:port" (":8080" = all interfaces, port 0 = any free port).
  Status start(const std::string& address);
  void stop();
  int port() const { return port_; }

 private:
  void serve();
  void serveConnection(int fd);

  std::map<std::string, HttpHandler> handlers_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace warren::runtime
