#include "runtime/controller.h"

#include "common/log.h"
#include "runtime/metrics.h"

namespace warren::runtime {
namespace {

struct ControllerMetrics {
  metrics::Family<metrics::Counter>& total = metrics::registry().counter(
      "controller_runtime_reconcile_total", "Reconciles per controller and result.",
      {"controller", "result"});
  metrics::Family<metrics::Counter>& errors = metrics::registry().counter(
      "controller_runtime_reconcile_errors_total", "Reconcile errors per controller.", {"controller"});
  metrics::Family<metrics::Histogram>& duration = metrics::registry().histogram(
      "controller_runtime_reconcile_time_seconds", "Reconcile duration per controller.",
      {"controller"}, metrics::latencyBuckets());
  metrics::Family<metrics::Gauge>& active = metrics::registry().gauge(
      "controller_runtime_active_workers", "Workers currently reconciling.", {"controller"});
};

ControllerMetrics& controllerMetrics() {
  static ControllerMetrics instance;
  return instance;
}

std::string groupOf(const std::string& api_version) {
  const auto slash = api_version.find('/');
  return slash == std::string::npos ? std::string() : api_version.substr(0, slash);
}

}  // namespace

Request Request::fromKey(const std::string& key) {
  const auto slash = key.find('/');
  if (slash == std::string::npos) return {"", key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

std::optional<Request> controllerOwner(const nlohmann::json& object, const std::string& group,
                                       const std::string& kind) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return std::nullopt;
  const auto owners = metadata->find("ownerReferences");
  if (owners == metadata->end() || !owners->is_array()) return std::nullopt;
  for (const auto& owner : *owners) {
    if (!owner.is_object() || !owner.value("controller", false)) continue;
    if (owner.value("kind", "") != kind || groupOf(owner.value("apiVersion", "")) != group) {
      return std::nullopt;
    }
    return Request{metadata->value("namespace", ""), owner.value("name", "")};
  }
  return std::nullopt;
}

Controller::Controller(ControllerOptions options, std::shared_ptr<Reconciler> reconciler)
    : options_(std::move(options)),
      reconciler_(std::move(reconciler)),
      queue_(options_.name, defaultRetryLimiter(options_.retry)) {}

Controller::~Controller() {
  if (stop(std::chrono::seconds(5))) return;
  // The workers use this object: wait for them whatever it takes.
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

void Controller::watchPrimary(Informer& informer) {
  auto enqueue_object = [this](const ObjectPtr& object) { queue_.add(objectKey(*object)); };
  informer.addHandler({enqueue_object,
                       [enqueue_object](const ObjectPtr&, const ObjectPtr& now) { enqueue_object(now); },
                       enqueue_object});
}

void Controller::watchOwned(Informer& informer, const std::string& owner_group,
                            const std::string& owner_kind) {
  auto enqueue_owner = [this, owner_group, owner_kind](const ObjectPtr& object) {
    if (auto owner = controllerOwner(*object, owner_group, owner_kind)) queue_.add(owner->key());
  };
  informer.addHandler({enqueue_owner,
                       [enqueue_owner](const ObjectPtr& old_object, const ObjectPtr& now) {
                         enqueue_owner(old_object);
                         enqueue_owner(now);
                       },
                       enqueue_owner});
}

void Controller::watchMapped(Informer& informer,
                             std::function<std::vector<Request>(const nlohmann::json&)> map) {
  auto enqueue_mapped = [this, map](const ObjectPtr& object) {
    for (const auto& request : map(*object)) queue_.add(request.key());
  };
  informer.addHandler({enqueue_mapped,
                       [enqueue_mapped](const ObjectPtr& old_object, const ObjectPtr& now) {
                         enqueue_mapped(old_object);
                         enqueue_mapped(now);
                       },
                       enqueue_mapped});
}

void Controller::start() {
  if (started_.exchange(true)) return;
  const int workers = std::max(1, options_.max_concurrent_reconciles);
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { worker(); });
  log::info("controller started", {log::Field("controller", options_.name), log::Field("workers", workers)});
}

bool Controller::stop(std::chrono::milliseconds drain) {
  if (!queue_.shutDownWithDrain(drain)) {
    log::warn("controller did not drain in time", {log::Field("controller", options_.name)});
    return false;
  }
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  workers_.clear();
  return true;
}

void Controller::worker() {
  while (auto key = queue_.get()) {
    processOne(*key);
    queue_.done(*key);
  }
}

void Controller::processOne(const std::string& key) {
  auto& m = controllerMetrics();
  m.active.with({options_.name}).inc();
  const auto start = std::chrono::steady_clock::now();
  const ReconcileOutcome outcome = [&]() -> ReconcileOutcome {
    // The boundary: an exception from a library becomes an error value.
    try {
      return reconciler_->reconcile(Request::fromKey(key));
    } catch (const std::exception& e) {
      return Error::local("InternalError", std::string("reconcile threw: ") + e.what());
    }
  }();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  m.active.with({options_.name}).dec();
  m.duration.with({options_.name}).observe(seconds);
  const log::Field controller("controller", options_.name);
  const log::Field key_field("key", key);
  const log::Field duration("duration_ms", seconds * 1000.0);

  // A successful reconcile is routine (periodic rechecks included): debug. What a
  // reconciler changed it logs itself; failures are warnings or errors.
  if (outcome) {
    queue_.forget(key);
    if (outcome->requeue_after) {
      queue_.addAfter(key, *outcome->requeue_after);
      m.total.with({options_.name, "requeue_after"}).inc();
      log::debug("reconciled", {controller, key_field, duration, log::Field("result", "requeue"),
                                log::Field("requeue_after_ms",
                                           static_cast<long long>(outcome->requeue_after->count()))});
    } else {
      m.total.with({options_.name, "success"}).inc();
      log::debug("reconciled", {controller, key_field, duration, log::Field("result", "success")});
    }
    return;
  }
  m.errors.with({options_.name}).inc();
  const Error& error = outcome.error();
  if (error.terminal) {
    queue_.forget(key);
    m.total.with({options_.name, "terminal_error"}).inc();
    log::error("reconcile failed permanently",
               {controller, key_field, duration, log::Field("result", "terminal_error"),
                log::Field("error", error.describe())});
    return;
  }
  queue_.addRateLimited(key);
  if (error.isConflict()) {
    // A write from a cache that was behind (optimistic concurrency did its job): retried on fresh data.
    m.total.with({options_.name, "conflict"}).inc();
    log::debug("reconcile raced a newer version, will retry",
               {controller, key_field, duration, log::Field("result", "conflict"), log::Field("error", error.describe())});
    return;
  }
  m.total.with({options_.name, "error"}).inc();
  log::warn("reconcile failed, will retry",
            {controller, key_field, duration, log::Field("result", "error"),
             log::Field("error", error.describe()), log::Field("retries", queue_.numRequeues(key))});
}

}  // namespace warren::runtime
