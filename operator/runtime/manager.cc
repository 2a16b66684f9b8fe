#include "runtime/manager.h"

#include <atomic>
#include <cstdlib>
#include <thread>

#include "common/log.h"
#include "runtime/metrics.h"

namespace warren::runtime {

Manager::Manager(std::shared_ptr<kube::Client> client, ManagerOptions options)
    : client_(std::move(client)), options_(std::move(options)) {
  instrument(*client_);
  metrics::registry()
      .gauge("warren_build_info", "Build information; always 1.", {"version"})
      .with({options_.version})
      .set(1);
}

Manager::~Manager() {
  stopControllers(options_.graceful_shutdown);
  for (auto& informer : informers_) informer->stop();
  http_.stop();
}

namespace {

metrics::Family<metrics::Counter>& apiRequests() {
  return metrics::registry().counter(
      "rest_client_requests_total", "API requests by verb and HTTP status code (0: no response).",
      {"verb", "code"});
}

// Two caches hold the same objects only when neither transforms them, or
// both use the same named transform (an unnamed one is never shared).
bool sameTransform(const InformerOptions& a, const InformerOptions& b) {
  if (!a.transform && !b.transform) return true;
  return a.transform && b.transform && !a.transform_name.empty() && a.transform_name == b.transform_name;
}

}  // namespace

double Manager::apiWrites() {
  double total = 0;
  apiRequests().forEach([&total](const metrics::LabelValues& labels, const metrics::Counter& counter) {
    const std::string& verb = labels.at(0);
    if (verb != "get" && verb != "list" && verb != "watch") total += counter.value();
  });
  return total;
}

double Manager::apiReads() {
  double total = 0;
  apiRequests().forEach([&total](const metrics::LabelValues& labels, const metrics::Counter& counter) {
    if (labels.at(0) == "get" || labels.at(0) == "list") total += counter.value();
  });
  return total;
}

void Manager::instrument(kube::Client& client) {
  auto& requests = apiRequests();
  auto& latency = metrics::registry().histogram(
      "rest_client_request_duration_seconds", "API request latency by verb.", {"verb"},
      metrics::latencyBuckets());
  client.setObserver([&requests, &latency](std::string_view verb, int code,
                                           std::chrono::duration<double> elapsed) {
    requests.with({std::string(verb), std::to_string(code)}).inc();
    latency.with({std::string(verb)}).observe(elapsed.count());
  });
}

std::shared_ptr<Informer> Manager::addInformer(InformerOptions options) {
  // Controllers asking for the same objects share one cache and one watch.
  for (const auto& existing : informers_) {
    const InformerOptions& o = existing->options();
    if (o.type.apiVersion() == options.type.apiVersion() && o.type.plural == options.type.plural &&
        o.ns == options.ns && o.label_selector == options.label_selector &&
        o.field_selector == options.field_selector && o.drop_managed_fields == options.drop_managed_fields &&
        o.metadata_only == options.metadata_only &&
        sameTransform(o, options)) {
      return existing;
    }
  }
  auto informer = Informer::forClient(client_, std::move(options));
  informers_.push_back(informer);
  return informer;
}

void Manager::addController(std::shared_ptr<Controller> controller) {
  controllers_.push_back(std::move(controller));
}

bool Manager::controllersIdle() const {
  for (const auto& controller : controllers_) {
    if (!controller->queue().idle()) return false;
  }
  return true;
}

bool Manager::ready() const {
  for (const auto& informer : informers_) {
    if (!informer->hasSynced()) return false;
  }
  return true;
}

void Manager::startControllers() {
  for (auto& controller : controllers_) controller->start();
  controllers_running_ = true;
}

bool Manager::stopControllers(std::chrono::milliseconds drain) {
  if (!controllers_running_) return true;
  controllers_running_ = false;
  // Every queue is shut at once (no controller takes another key while another drains), then all drain together.
  for (auto& controller : controllers_) controller->queue().shutDown();
  std::atomic<bool> drained{true};
  std::vector<std::thread> stoppers;
  for (auto& controller : controllers_) {
    stoppers.emplace_back([&drained, &controller, drain] {
      if (!controller->stop(drain)) drained = false;
    });
  }
  for (auto& stopper : stoppers) stopper.join();
  return drained;
}

int Manager::run(kube::Cancellation& stop) {
  if (!options_.http_address.empty()) {
    http_.handle("/healthz", [] { return HttpReply{200, "text/plain", "ok\n"}; });
    http_.handle("/readyz", [this] {
      return ready() ? HttpReply{200, "text/plain", "ok\n"}
                     : HttpReply{503, "text/plain", "informers not synced\n"};
    });
    http_.handle("/metrics", [] {
      metrics::updateProcessMetrics();
      return HttpReply{200, "text/plain; version=0.0.4; charset=utf-8", metrics::registry().render()};
    });
    if (auto started = http_.start(options_.http_address); !started) {
      log::error("cannot serve health and metrics", {log::Field("error", started.error().message)});
      return 1;
    }
    log::info("serving /healthz, /readyz and /metrics", {log::Field("port", http_.port())});
  }

  for (auto& informer : informers_) informer->start();
  const auto deadline = std::chrono::steady_clock::now() + options_.cache_sync_timeout;
  for (auto& informer : informers_) {
    while (!informer->hasSynced() && !stop.cancelled() && std::chrono::steady_clock::now() < deadline) {
      informer->waitForSync(std::chrono::milliseconds(200));
    }
    if (!informer->hasSynced() && !stop.cancelled()) {
      log::error("cache did not sync in time", {log::Field("resource", informer->type().qualifiedName())});
      return 1;
    }
  }
  if (!stop.cancelled()) log::info("caches synced", {log::Field("informers", static_cast<int>(informers_.size()))});

  int exit_code = 0;
  if (options_.leader_elect) {
    // The elector never goes through the fenced client (it could not renew); without a client of its own it
    // gets an unfenced, unlimited sibling of the manager's.
    LeaderElectionConfig election = options_.leader_election;
    if (!election.client) {
      kube::ClientOptions unlimited;
      unlimited.qps = -1;
      election.client = client_->sibling(unlimited);
    }
    auto elector = std::make_shared<LeaderElector>(client_, election);
    client_->setWriteFence([elector] { return elector->holdsLease(); });
    const bool graceful = elector->run(
        stop, [this] { startControllers(); },
        [this](bool lost) {
          if (!lost) {
            stopControllers(options_.graceful_shutdown);
            return;
          }
          if (!stopControllers(options_.lost_lease_drain)) {
            // A reconcile is stuck (its writes are fenced anyway): no thread of it may outlive the lease.
            log::error("reconciles still running after leadership was lost; exiting now");
            std::_Exit(1);
          }
        });
    if (!graceful) exit_code = 1;
  } else if (!stop.cancelled()) {
    startControllers();
    stop.wait();
    stopControllers(options_.graceful_shutdown);
  }
  for (auto& informer : informers_) informer->stop();
  http_.stop();
  return exit_code;
}

}  // namespace warren::runtime
