// LeaderElector: leader election on a coordination.k8s.io/v1 Lease with
// client-go's semantics. A candidate takes the lease when it is free, is its
// own, or has not changed for a whole lease duration as measured on the
// local clock since this candidate last saw the record change (so clock
// skew between machines does not matter). The leader renews every retry
// period; failing to renew within the renew deadline loses leadership. On
// graceful stop the leader releases the lease so a successor need not wait.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "kube/client.h"

namespace warren::runtime {

struct LeaderElectionConfig {
  std::string lease_namespace;
  std::string lease_name;
  std::string identity;
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
};

class LeaderElector {
 public:
  using clock = std::chrono::steady_clock;

  LeaderElector(std::shared_ptr<kube::Client> client, LeaderElectionConfig config);

  // Blocks: campaigns until leading, calls on_started, renews until
  // leadership is lost (calls on_stopped and returns false) or `cancel`
  // fires (releases the lease, calls on_stopped if leading, returns true).
  bool run(kube::Cancellation& cancel, const std::function<void()>& on_started,
           const std::function<void()>& on_stopped);

  bool isLeader() const { return leading_.load(); }

  // One acquire-or-renew attempt; true when this candidate holds the lease
  // afterwards. Public for tests.
  bool tryAcquireOrRenew(clock::time_point now);
  void release();

 private:
  nlohmann::json leaseSpec(bool acquiring, int transitions) const;

  std::shared_ptr<kube::Client> client_;
  LeaderElectionConfig config_;
  std::atomic<bool> leading_{false};
  nlohmann::json observed_spec_;  // the last record seen
  clock::time_point observed_at_{};
  std::string observed_resource_version_;
};

}  // namespace warren::runtime
