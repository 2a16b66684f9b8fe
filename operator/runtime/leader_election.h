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
  // The elector's own client, so that renewals never wait behind the
  // controllers' requests or rate limit; its request timeout should be at
  // most half the renew deadline (a renew is a GET and a PUT). When null the
  // manager's client is used.
  std::shared_ptr<kube::Client> client;
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
  // leadership is lost (calls on_stopped(true) and returns false) or
  // `cancel` fires (calls on_stopped(false) if leading, then releases the
  // lease, and returns true).
  bool run(kube::Cancellation& cancel, const std::function<void()>& on_started,
           const std::function<void(bool lost)>& on_stopped);

  bool isLeader() const { return leading_.load(); }
  // True while leading and the last successful renewal is younger than the
  // renew deadline, on this process's monotonic clock: a process that was
  // paused (SIGSTOP, a VM freeze) wakes up with this false, before its
  // elector thread has even run, so nothing it does afterwards writes.
  bool holdsLease(clock::time_point now = clock::now()) const;

  // One acquire-or-renew attempt; true when this candidate holds the lease
  // afterwards. Public for tests.
  bool tryAcquireOrRenew(clock::time_point now);
  void release();

 private:
  nlohmann::json leaseSpec(bool acquiring, int transitions) const;

  std::shared_ptr<kube::Client> client_;
  LeaderElectionConfig config_;
  std::atomic<bool> leading_{false};
  std::atomic<clock::rep> renewed_at_{0};  // steady-clock ticks of the last successful acquire or renew
  nlohmann::json observed_spec_;  // the last record seen
  clock::time_point observed_at_{};
  std::string observed_resource_version_;
};

}  // namespace warren::runtime
