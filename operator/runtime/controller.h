// Controller: reconciles keys from a work queue with N workers. It watches
// its primary kind, the child kinds it owns (events map to the owner through
// the controller ownerReference) and any other kind through a mapping
// function. Reconcile is level-based: it gets only a namespace/name and
// reads current state itself.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "runtime/informer.h"
#include "runtime/work_queue.h"

namespace warren::runtime {

struct Request {
  std::string ns;
  std::string name;
  std::string key() const { return objectKey(ns, name); }
  static Request fromKey(const std::string& key);
  bool operator==(const Request&) const = default;
};

struct ReconcileResult {
  // Reconcile again after this delay even if nothing changes.
  std::optional<std::chrono::milliseconds> requeue_after;
};
// An Error retries with backoff; an Error with `terminal` set is reported
// and not retried.
using ReconcileOutcome = Result<ReconcileResult>;

class Reconciler {
 public:
  virtual ~Reconciler() = default;
  virtual ReconcileOutcome reconcile(const Request& request) = 0;
};

struct ControllerOptions {
  std::string name;
  int max_concurrent_reconciles = 1;
  RetrySettings retry;
};

class Controller {
 public:
  Controller(ControllerOptions options, std::shared_ptr<Reconciler> reconciler);
  ~Controller();

  // Event sources; register before the informers start.
  void watchPrimary(Informer& informer);
  // Child events enqueue the owner named by the controller ownerReference
  // whose group and kind match.
  void watchOwned(Informer& informer, const std::string& owner_group, const std::string& owner_kind);
  void watchMapped(Informer& informer,
                   std::function<std::vector<Request>(const nlohmann::json&)> map);

  void enqueue(const Request& request) { queue_.add(request.key()); }
  void start();
  // Stops taking keys at once (queued keys are dropped) and waits up to
  // `drain` for running reconciles; false when they did not finish, and
  // then their threads are left running (the caller decides what to do).
  bool stop(std::chrono::milliseconds drain = std::chrono::seconds(30));

  const std::string& name() const { return options_.name; }
  WorkQueue& queue() { return queue_; }
  const WorkQueue& queue() const { return queue_; }

 private:
  void worker();
  void processOne(const std::string& key);

  ControllerOptions options_;
  std::shared_ptr<Reconciler> reconciler_;
  WorkQueue queue_;
  std::vector<std::thread> workers_;
  std::atomic<bool> started_{false};
};

// The controller ownerReference of `object` when it points at group/kind.
std::optional<Request> controllerOwner(const nlohmann::json& object, const std::string& group,
                                       const std::string& kind);

}  // namespace warren::runtime
