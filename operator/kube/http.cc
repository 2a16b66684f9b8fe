#include "kube/http.h"

namespace warren::kube {

std::string percentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string HttpRequest::target() const {
  std::string out = path;
  char sep = '?';
  for (const auto& [key, value] : query) {
    out.push_back(sep);
    out += percentEncode(key);
    out.push_back('=');
    out += percentEncode(value);
    sep = '&';
  }
  return out;
}

std::string HttpRequest::queryValue(std::string_view key) const {
  for (const auto& [k, v] : query) {
    if (k == key) return v;
  }
  return {};
}

void Cancellation::cancel() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (cancelled_.exchange(true)) return;
  changed_.notify_all();
  // One callback at a time, outside the lock, so a callback may use this
  // object, and unsubscribe() can wait for the one that is running.
  running_thread_ = std::this_thread::get_id();
  while (!callbacks_.empty()) {
    auto next = callbacks_.extract(callbacks_.begin());
    running_id_ = next.key();
    lock.unlock();
    next.mapped()();
    lock.lock();
    running_id_ = -1;
    changed_.notify_all();
  }
  running_thread_ = {};
}

int Cancellation::subscribe(std::function<void()> callback) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!cancelled_) {
      callbacks_.emplace(next_id_, std::move(callback));
      return next_id_++;
    }
  }
  callback();
  return -1;
}

void Cancellation::unsubscribe(int id) {
  std::unique_lock<std::mutex> lock(mutex_);
  callbacks_.erase(id);
  if (std::this_thread::get_id() == running_thread_) return;  // called from a callback
  changed_.wait(lock, [&] { return running_id_ != id || id < 0; });
}

bool Cancellation::waitFor(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, timeout, [this] { return cancelled_.load(); });
}

void Cancellation::wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return cancelled_.load(); });
}

}  // namespace warren::kube
