// A minimal HTTP/1.1 server for the operator's own endpoints (/healthz,
// /readyz, /metrics): GET only, one short request per connection. An
// acceptor hands connections to a few workers; every read and write has a
// deadline, so a scraper that stalls (never sends, never reads) holds one
// worker for at most a few seconds and never blocks /healthz. Connections
// beyond what the workers and a short backlog can take are closed at once.
// Listens on IPv6 and IPv4 (":8080") or on the given host. Handlers must be
// quick and must never block; they read state that others keep current.
// (cpprestsdk's listener is not meant for production use, so it is not used
// here.)
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>
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
  // `workers` connections are served at once; `io_timeout` bounds each read and write.
  explicit HttpServer(int workers = 4, std::chrono::milliseconds io_timeout = std::chrono::seconds(2));
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void handle(const std::string& path, HttpHandler handler);
  // "host:port" (":8080" = all interfaces, port 0 = any free port).
  Status start(const std::string& address);
  void stop();
  int port() const { return port_; }

 private:
  void acceptLoop();
  void workLoop();
  void serveConnection(int fd);

  const int workers_count_;
  const std::chrono::milliseconds io_timeout_;
  std::map<std::string, HttpHandler> handlers_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable pending_changed_;
  std::deque<int> pending_;  // accepted, not yet served
};

}  // namespace warren::runtime
