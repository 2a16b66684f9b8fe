// Controller outcomes with a scripted reconciler: success, requeue after a
// delay, retried errors and terminal errors.
#include "runtime/controller.h"
#include "runtime/metrics.h"

#include "runtime/manager.h"
#include "runtime/object_helpers.h"

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

namespace warren::runtime {
namespace {

using namespace std::chrono_literals;

class ScriptedReconciler : public Reconciler {
 public:
  std::function<ReconcileOutcome(const Request&, int call)> script;
  std::mutex mutex;
  std::map<std::string, int> calls;
  std::atomic<int> concurrent{0}, max_concurrent_same_key{0};
  std::map<std::string, int> in_flight;

  ReconcileOutcome reconcile(const Request& request) override {
    int call;
    {
      std::lock_guard<std::mutex> lock(mutex);
      call = ++calls[request.key()];
      max_concurrent_same_key = std::max(max_concurrent_same_key.load(), ++in_flight[request.key()]);
    }
    std::this_thread::sleep_for(1ms);
    auto outcome = script(request, call);
    std::lock_guard<std::mutex> lock(mutex);
    --in_flight[request.key()];
    return outcome;
  }
  int callsFor(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex);
    return calls[key];
  }
};

bool waitUntil(const std::function<bool()>& condition) {
  for (int i = 0; i < 300 && !condition(); ++i) std::this_thread::sleep_for(10ms);
  return condition();
}

ControllerOptions options(int workers) {
  ControllerOptions o;
  o.name = "test";
  o.max_concurrent_reconciles = workers;
  o.retry.base_delay = 1ms;
  o.retry.qps = 1000;
  o.retry.burst = 1000;
  return o;
}

// Reconciles of the "test" controllers that ended with `result`, from the metrics they record: the
// positive signal that a reconcile has fully finished (its outcome handled), before checking that nothing
// more happens.
double finished(const std::string& result) {
  double total = 0;
  metrics::registry()
      .counter("controller_runtime_reconcile_total", "Reconciles per controller and result.", {"controller", "result"})
      .forEach([&](const metrics::LabelValues& labels, const metrics::Counter& counter) {
        if (labels.at(0) == "test" && labels.at(1) == result) total += counter.value();
      });
  return total;
}

TEST(ControllerTest, ErrorsAreRetriedUntilSuccess) {
  auto reconciler = std::make_shared<ScriptedReconciler>();
  reconciler->script = [](const Request&, int call) -> ReconcileOutcome {
    if (call < 3) return Error::local("Transient", "try again");
    return ReconcileResult{};
  };
  Controller controller(options(2), reconciler);
  controller.start();
  const double successes = finished("success");
  controller.enqueue({"ns", "a"});
  EXPECT_TRUE(waitUntil([&] { return finished("success") == successes + 1; }));
  // The success was handled and nothing is queued or waiting: no call can follow.
  EXPECT_EQ(controller.queue().length(), 0u);
  EXPECT_EQ(controller.queue().waitingCount(), 0u);
  EXPECT_EQ(reconciler->callsFor("ns/a"), 3);  // success ends the retries
  EXPECT_EQ(controller.queue().numRequeues("ns/a"), 0);
  controller.stop();
}

TEST(ControllerTest, TerminalErrorsAreNotRetried) {
  auto reconciler = std::make_shared<ScriptedReconciler>();
  reconciler->script = [](const Request&, int) -> ReconcileOutcome {
    return Error::terminalError("InvalidSpec", "replicas must be positive");
  };
  Controller controller(options(1), reconciler);
  controller.start();
  const double terminal = finished("terminal_error");
  controller.enqueue({"ns", "bad"});
  EXPECT_TRUE(waitUntil([&] { return finished("terminal_error") == terminal + 1; }));
  EXPECT_EQ(controller.queue().length(), 0u);
  EXPECT_EQ(controller.queue().waitingCount(), 0u) << "a terminal error was scheduled for a retry";
  EXPECT_EQ(reconciler->callsFor("ns/bad"), 1);
  controller.stop();
}

TEST(ControllerTest, RequeueAfterReconcilesAgain) {
  auto reconciler = std::make_shared<ScriptedReconciler>();
  reconciler->script = [](const Request&, int call) -> ReconcileOutcome {
    ReconcileResult result;
    if (call == 1) result.requeue_after = 30ms;
    return result;
  };
  Controller controller(options(1), reconciler);
  controller.start();
  controller.enqueue({"ns", "r"});
  EXPECT_TRUE(waitUntil([&] { return reconciler->callsFor("ns/r") == 2; }));
  controller.stop();
}

TEST(ControllerTest, ManyWorkersNeverShareAKey) {
  auto reconciler = std::make_shared<ScriptedReconciler>();
  reconciler->script = [](const Request&, int) -> ReconcileOutcome { return ReconcileResult{}; };
  Controller controller(options(4), reconciler);
  controller.start();
  for (int i = 0; i < 400; ++i) controller.enqueue({"ns", "k" + std::to_string(i % 3)});
  EXPECT_TRUE(waitUntil([&] { return controller.queue().length() == 0; }));
  controller.stop();
  EXPECT_EQ(reconciler->max_concurrent_same_key.load(), 1);
}

// Informers are only created here, never started: no request is made.
class NoNetwork : public kube::HttpTransport {
 public:
  Result<kube::HttpResponse> send(const kube::HttpRequest&) override { return Error::local("Test", "no network"); }
  Result<kube::HttpResponse> stream(const kube::HttpRequest&, int, const kube::LineHandler&, kube::Cancellation&) override {
    return Error::local("Test", "no network");
  }
};

TEST(ManagerTest, SharesAnInformerOnlyForTheSameObjectsCachedTheSameWay) {
  ManagerOptions options;
  options.http_address = "";
  Manager manager(std::make_shared<kube::Client>(std::make_shared<NoNetwork>(), nullptr, kube::ClientOptions{}), options);
  auto pods = manager.addInformer({kube::resources::pods(), "ns", "app=x"});
  EXPECT_EQ(manager.addInformer({kube::resources::pods(), "ns", "app=x"}), pods);
  EXPECT_NE(manager.addInformer({kube::resources::pods(), "ns", "app=y"}), pods);
  EXPECT_NE(manager.addInformer({kube::resources::pods(), "", "app=x"}), pods);
  InformerOptions pruned{kube::resources::pods(), "ns", "app=x"};
  pruned.transform = [](nlohmann::json& object) { pruneTo(object, {}); };
  pruned.transform_name = "metadata-only";
  auto slim = manager.addInformer(pruned);
  EXPECT_NE(slim, pods) << "a pruned cache must not serve a controller that reads everything";
  EXPECT_EQ(manager.addInformer(pruned), slim);
  InformerOptions unnamed{kube::resources::pods(), "ns", "app=x"};
  unnamed.transform = pruned.transform;
  auto anonymous = manager.addInformer(unnamed);
  EXPECT_NE(anonymous, slim);
  EXPECT_NE(manager.addInformer(unnamed), anonymous) << "an unnamed transform cannot be told apart from another";
}

}  // namespace
}  // namespace warren::runtime
