// HTTP request/response values and the HttpTransport interface that every
// Kubernetes call goes through. Requests are plain data, built without I/O
// (see request_builder.h); only a transport performs I/O. cpprestsdk is
// archived upstream, so it lives behind this interface (cpprest_transport.h)
// and can be replaced without touching callers.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/result.h"

namespace warren::kube {

struct HttpRequest {
  std::string method;  // GET, POST, PUT, PATCH, DELETE
  std::string path;    // absolute, already percent-escaped segment by segment
  std::vector<std::pair<std::string, std::string>> query;  // unescaped
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type;  // empty when there is no body
  std::string body;
  // The verb reported in metrics and logs (get, list, watch, create, update,
  // patch, apply, delete); not sent.
  std::string verb;

  // "path?k=v&..." with the query percent-encoded.
  std::string target() const;
  // Value of a query parameter, or "" (tests and logging).
  std::string queryValue(std::string_view key) const;
};

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

// Cooperative cancellation shared between a caller and a long-running
// transport call (a watch). Thread-safe.
class Cancellation {
 public:
  void cancel();
  bool cancelled() const { return cancelled_.load(); }
  // Runs `callback` on cancel(), or at once if already cancelled. Returns an
  // id for unsubscribe().
  int subscribe(std::function<void()> callback);
  // After this returns the callback is not running and never will, so what
  // it refers to may be destroyed (it waits for a cancel() running it on
  // another thread).
  void unsubscribe(int id);
  // Sleeps up to `timeout`, waking early on cancel(); true when cancelled.
  bool waitFor(std::chrono::milliseconds timeout);
  // Sleeps until cancel().
  void wait();

 private:
  std::atomic<bool> cancelled_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
  int next_id_ = 0;
  std::map<int, std::function<void()>> callbacks_;
  int running_id_ = -1;                 // the callback cancel() is running
  std::thread::id running_thread_;      // the thread running it
};

// Called once per line of a streamed body; return false to stop reading.
using LineHandler = std::function<bool(std::string_view line)>;

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;

  // Sends one request and reads the whole response. Non-2xx statuses are
  // returned as responses, not errors; an Error means no response (network,
  // TLS, timeout).
  virtual Result<HttpResponse> send(const HttpRequest& request) = 0;

  // Sends a request whose body is a stream of lines (a watch). When the
  // status is 2xx, each line goes to `on_line` as it arrives and the call
  // returns when the server ends the stream, `on_line` returns false or
  // `cancel` fires; the returned response then has an empty body. Otherwise
  // the whole error body is returned. `idle_timeout_seconds` bounds silence
  // on the connection and must exceed the watch's own timeoutSeconds.
  virtual Result<HttpResponse> stream(const HttpRequest& request, int idle_timeout_seconds,
                                      const LineHandler& on_line, Cancellation& cancel) = 0;
};

using HttpTransportPtr = std::shared_ptr<HttpTransport>;

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string percentEncode(std::string_view text);

}  // namespace warren::kube
