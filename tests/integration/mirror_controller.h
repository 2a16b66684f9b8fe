// A sample controller that exists only in the tests: every ConfigMap
// labelled warren.dev/mirror=true gets an owned copy "<name>-mirror" with the
// same data, applied with server-side apply and a controller ownerReference.
// It proves the runtime end to end: primary watch, owned-child watch, SSA,
// and deletion of the child by the real garbage collector.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "runtime/controller.h"
#include "runtime/manager.h"

namespace warren::testing {

class MirrorReconciler : public runtime::Reconciler {
 public:
  MirrorReconciler(std::shared_ptr<kube::Client> client, std::shared_ptr<runtime::Informer> sources,
                   std::shared_ptr<runtime::Informer> mirrors);
  runtime::ReconcileOutcome reconcile(const runtime::Request& request) override;

  // Called at the start and end of every reconcile (the leader-election
  // test logs these to prove two processes never overlap).
  std::function<void(const runtime::Request&, bool started)> on_reconcile;
  std::atomic<int> writes{0};
  std::string field_manager = "warren-mirror-test";  // set before the manager runs

 private:
  std::shared_ptr<kube::Client> client_;
  std::shared_ptr<runtime::Informer> sources_;
  std::shared_ptr<runtime::Informer> mirrors_;
};

// Registers the informers and the controller on `manager`.
std::shared_ptr<MirrorReconciler> addMirrorController(runtime::Manager& manager,
                                                      const std::string& ns, int workers);

}  // namespace warren::testing
