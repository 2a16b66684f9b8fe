#include "runtime/http_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

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
  const std::string port = address.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* result = nullptr;
  if (getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &result) != 0 ||
      result == nullptr) {
    return Error::local("InvalidAddress", "cannot resolve \"" + address + "\"");
  }
  listen_fd_ = ::socket(result->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const int bound = ::bind(listen_fd_, result->ai_addr, result->ai_addrlen);
  freeaddrinfo(result);
  if (bound != 0 || ::listen(listen_fd_, 64) != 0) {
    const std::string why = std::strerror(errno);
    ::close(listen_fd_);
    listen_fd_ = -1;
    return Error::local("BindFailed", "cannot listen on " + address + ": " + why);
  }
  sockaddr_in actual{};
  socklen_t length = sizeof actual;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&actual), &length);
  port_ = ntohs(actual.sin_port);
  thread_ = std::thread([this] { serve(); });
  return okStatus();
}

void HttpServer::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
}

void HttpServer::serve() {
  while (!stopping_) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 200) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    serveConnection(fd);
    ::close(fd);
  }
}

void HttpServer::serveConnection(int fd) {
  // Read the request head, bounded in size and time so a slow client cannot
  // hold the server.
  std::string head;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
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
