#include "runtime/http_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "common/log.h"

namespace warren::runtime {
namespace {

const char* statusText(int status) {
  switch (status) {
    case 200: return "OK";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

void writeAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

}  // namespace

HttpServer::HttpServer(int workers, std::chrono::milliseconds io_timeout)
    : workers_count_(std::max(1, workers)), io_timeout_(io_timeout) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::handle(const std::string& path, HttpHandler handler) {
  handlers_[path] = std::move(handler);
}

Status HttpServer::start(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return Error::local("InvalidAddress", "address \"" + address + "\" must be host:port");
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port = address.substr(colon + 1);
  addrinfo hints{};
  // No host: every interface, IPv6 and IPv4 on one dual-stack socket (falling back to IPv4 alone).
  hints.ai_family = host.empty() ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* result = nullptr;
  if (getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &result) != 0 || result == nullptr) {
    if (!host.empty()) return Error::local("InvalidAddress", "cannot resolve \"" + address + "\"");
    hints.ai_family = AF_INET;
    if (getaddrinfo(nullptr, port.c_str(), &hints, &result) != 0 || result == nullptr) {
      return Error::local("InvalidAddress", "cannot resolve \"" + address + "\"");
    }
  }
  std::string why;
  for (addrinfo* candidate = result; candidate != nullptr && listen_fd_ < 0; candidate = candidate->ai_next) {
    const int fd = ::socket(candidate->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    const int one = 1;
    const int zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (candidate->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (::bind(fd, candidate->ai_addr, candidate->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
      why = std::strerror(errno);
      ::close(fd);
      continue;
    }
    listen_fd_ = fd;
  }
  freeaddrinfo(result);
  if (listen_fd_ < 0 && host.empty()) {
    // No IPv6 on this machine: IPv4 only.
    sockaddr_in any{};
    any.sin_family = AF_INET;
    any.sin_port = htons(static_cast<uint16_t>(std::atoi(port.c_str())));
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof any) == 0 && ::listen(fd, 64) == 0) {
      listen_fd_ = fd;
    } else if (fd >= 0) {
      why = std::strerror(errno);
      ::close(fd);
    }
  }
  if (listen_fd_ < 0) return Error::local("BindFailed", "cannot listen on " + address + ": " + why);
  sockaddr_storage actual{};
  socklen_t length = sizeof actual;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&actual), &length);
  port_ = actual.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&actual)->sin6_port)
                                       : ntohs(reinterpret_cast<sockaddr_in*>(&actual)->sin_port);
  stopping_ = false;
  for (int i = 0; i < workers_count_; ++i) workers_.emplace_back([this] { workLoop(); });
  thread_ = std::thread([this] { acceptLoop(); });
  return okStatus();
}

void HttpServer::stop() {
  {
    // Under the lock, so a worker between its check and its wait cannot miss the wake-up.
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  pending_changed_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  workers_.clear();
  for (int fd : pending_) ::close(fd);
  pending_.clear();
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
}

void HttpServer::acceptLoop() {
  const size_t backlog = static_cast<size_t>(workers_count_) * 4;
  while (!stopping_) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 200) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    // Every read and write on the connection gives up after the timeout.
    timeval tv{static_cast<time_t>(io_timeout_.count() / 1000), static_cast<suseconds_t>((io_timeout_.count() % 1000) * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::lock_guard<std::mutex> lock(mutex_);
    if (pending_.size() >= backlog) {
      ::close(fd);  // overloaded: shed rather than queue without bound
      continue;
    }
    pending_.push_back(fd);
    pending_changed_.notify_one();
  }
}

void HttpServer::workLoop() {
  while (true) {
    int fd = -1;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      pending_changed_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      if (stopping_) return;
      fd = pending_.front();
      pending_.pop_front();
    }
    serveConnection(fd);
    ::close(fd);
  }
}

void HttpServer::serveConnection(int fd) {
  // Read the request head, bounded in size and time so a slow client cannot
  // hold the server.
  std::string head;
  const auto deadline = std::chrono::steady_clock::now() + io_timeout_;
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 8192) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return;
    char buf[1024];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    head.append(buf, static_cast<size_t>(n));
  }
  const auto line_end = head.find("\r\n");
  const std::string request_line = head.substr(0, line_end);
  const auto first_space = request_line.find(' ');
  const auto second_space = request_line.find(' ', first_space + 1);
  HttpReply reply;
  if (first_space == std::string::npos || second_space == std::string::npos) {
    reply = {405, "text/plain", "bad request\n"};
  } else {
    const std::string method = request_line.substr(0, first_space);
    std::string path = request_line.substr(first_space + 1, second_space - first_space - 1);
    path = path.substr(0, path.find('?'));
    const auto handler = handlers_.find(path);
    if (method != "GET" && method != "HEAD") {
      reply = {405, "text/plain", "method not allowed\n"};
    } else if (handler == handlers_.end()) {
      reply = {404, "text/plain", "not found\n"};
    } else {
      reply = handler->second();
    }
  }
  std::string response = "HTTP/1.1 " + std::to_string(reply.status) + " " + statusText(reply.status) +
                         "\r\nContent-Type: " + reply.content_type +
                         "\r\nContent-Length: " + std::to_string(reply.body.size()) +
                         "\r\nConnection: close\r\n\r\n" + reply.body;
  writeAll(fd, response);
}

}  // namespace warren::runtime
