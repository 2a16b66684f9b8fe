#include "runtime/event_recorder.h"

#include <random>

#include "common/log.h"
#include "runtime/object_helpers.h"

namespace warren::runtime {
namespace {

constexpr size_t kMaxMessage = 1024;
// client-go's broadcaster queues as many.
constexpr size_t kMaxQueued = 1000;

std::string randomSuffix() {
  static thread_local std::mt19937_64 engine{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string out;
  auto value = engine();
  for (int i = 0; i < 16; ++i, value >>= 4) out.push_back(hex[value & 0xF]);
  return out;
}

}  // namespace

EventRecorder::EventRecorder(std::shared_ptr<kube::ObjectWriter> writer, std::string component,
                             EventDelivery delivery, std::chrono::minutes aggregation_window)
    : writer_(std::move(writer)), component_(std::move(component)), window_(aggregation_window) {
  if (delivery == EventDelivery::kBackground) sender_ = std::thread([this] { runQueue(); });
}

EventRecorder::~EventRecorder() {
  if (!sender_.joinable()) return;
  size_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    stopping_ = true;
    dropped = queue_.size();
    queue_.clear();
  }
  queue_changed_.notify_all();
  sender_.join();
  if (dropped > 0) log::info("events not written at shutdown", {log::Field("count", std::to_string(dropped))});
}

void EventRecorder::runQueue() {
  std::unique_lock<std::mutex> lock(queue_mutex_);
  while (true) {
    queue_changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    // FIFO with one delay for all, so the front is always the first due.
    const auto due = queue_.front().due;
    if (queue_changed_.wait_until(lock, due, [this] { return stopping_; })) return;
    Pending next = std::move(queue_.front());
    queue_.pop_front();
    ++in_flight_;
    lock.unlock();
    deliver(next);
    lock.lock();
    --in_flight_;
    queue_changed_.notify_all();
  }
}

void EventRecorder::flush() {
  std::unique_lock<std::mutex> lock(queue_mutex_);
  queue_changed_.wait(lock, [this] { return stopping_ || (queue_.empty() && in_flight_ == 0); });
}

nlohmann::json EventRecorder::buildEvent(const nlohmann::json& object, const std::string& type,
                                         const std::string& reason, const std::string& message,
                                         std::chrono::system_clock::time_point now) const {
  const auto& metadata = object.value("metadata", nlohmann::json::object());
  std::string ns = metadata.value("namespace", "");
  if (ns.empty()) ns = "default";  // events about cluster-scoped objects
  const std::string name = metadata.value("name", "") + "." + randomSuffix();
  const std::string stamp = formatTime(now);
  return {{"apiVersion", "v1"},
          {"kind", "Event"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"involvedObject",
           {{"apiVersion", object.value("apiVersion", "")},
            {"kind", object.value("kind", "")},
            {"name", metadata.value("name", "")},
            {"namespace", metadata.value("namespace", "")},
            {"uid", metadata.value("uid", "")},
            {"resourceVersion", metadata.value("resourceVersion", "")}}},
          {"type", type},
          {"reason", reason},
          {"message", message.substr(0, kMaxMessage)},
          {"source", {{"component", component_}}},
          {"reportingComponent", component_},
          {"firstTimestamp", stamp},
          {"lastTimestamp", stamp},
          {"count", 1}};
}

void EventRecorder::record(const nlohmann::json& object, const std::string& type,
                           const std::string& reason, const std::string& message) {
  const nlohmann::json metadata = object.value("metadata", nlohmann::json::object());
  nlohmann::json reference = {{"apiVersion", object.value("apiVersion", "")},
                              {"kind", object.value("kind", "")},
                              {"metadata", nlohmann::json::object()}};
  for (const char* field : {"name", "namespace", "uid", "resourceVersion"}) {
    if (metadata.is_object() && metadata.contains(field)) reference["metadata"][field] = metadata[field];
  }
  Pending pending{std::move(reference), type, reason, message.substr(0, kMaxMessage),
                  std::chrono::steady_clock::now() + kBackgroundDelay};
  if (!sender_.joinable()) {
    deliver(pending);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    if (queue_.size() < kMaxQueued) {
      queue_.push_back(std::move(pending));
      queue_changed_.notify_all();
      return;
    }
  }
  log::warn("event queue full, event dropped", {log::Field("reason", reason)});
}

void EventRecorder::deliver(const Pending& pending) {
  const nlohmann::json& object = pending.object;
  const std::string& type = pending.type;
  const std::string& reason = pending.reason;
  const std::string& message = pending.message;
  const std::string uid = object.value("/metadata/uid"_json_pointer, std::string());
  const std::string key = uid + "\n" + type + "\n" + reason + "\n" + message.substr(0, kMaxMessage);
  const auto now = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  auto it = seen_.find(key);
  if (it != seen_.end() && now - it->second.last < window_) {
    Seen& seen = it->second;
    seen.count += 1;
    seen.last = now;
    const nlohmann::json patch = {{"count", seen.count},
                                  {"lastTimestamp", formatTime(std::chrono::system_clock::now())}};
    const std::string name = seen.event_name, ns = seen.ns;
    lock.unlock();
    auto patched = writer_->patch(kube::resources::events(), ns, name, kube::PatchType::kMerge, patch, {});
    if (patched) return;
    log::debug("event aggregation failed, recording anew", {log::Field("error", patched.error().describe())});
    lock.lock();
    seen_.erase(key);
  }
  if (seen_.size() > 4096) seen_.clear();  // bound the memory of the aggregation cache
  lock.unlock();
  const nlohmann::json event = buildEvent(object, type, reason, message, std::chrono::system_clock::now());
  const std::string ns = event["metadata"]["namespace"];
  auto created = writer_->create(kube::resources::events(), ns, event, {});
  if (!created) {
    log::warn("cannot record event", {log::Field("reason", reason), log::Field("error", created.error().describe())});
    return;
  }
  lock.lock();
  seen_[key] = Seen{event["metadata"]["name"], ns, 1, now};
}

}  // namespace warren::runtime
