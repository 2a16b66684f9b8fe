// Manager: owns an operator's runnables. It serves /healthz, /readyz (ready
// once every informer has synced) and /metrics; starts the informers; runs
// the controllers — only while holding the leader Lease when leader
// election is on — and on shutdown stops the controllers in parallel
// (waiting for running reconciles), releases the Lease, then stops the
// informers. With leader election, the client's writes are fenced by the
// lease: once it is not renewed within the renew deadline no write is sent;
// losing it stops the controllers at once, gives running reconciles
// `lost_lease_drain`, and run() returns 1 (the process exits; a process
// whose reconciles are still stuck after that exits on the spot).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "kube/client.h"
#include "runtime/controller.h"
#include "runtime/http_server.h"
#include "runtime/informer.h"
#include "runtime/leader_election.h"

namespace warren::runtime {

struct ManagerOptions {
  std::string http_address = ":8080";  // "" disables the HTTP endpoints
  bool leader_elect = false;
  LeaderElectionConfig leader_election;
  // Must fit the Pod's termination grace period with the lease release after it.
  std::chrono::milliseconds graceful_shutdown{20000};
  std::chrono::milliseconds lost_lease_drain{2000};
  std::chrono::milliseconds cache_sync_timeout{120000};
  std::string version = "dev";
};

class Manager {
 public:
  Manager(std::shared_ptr<kube::Client> client, ManagerOptions options);
  ~Manager();

  // Records API requests by verb and code on `client` (done for the
  // manager's own client; call for others).
  static void instrument(kube::Client& client);
  // API write requests (every verb but get, list and watch) made so far by
  // instrumented clients, from the rest_client_requests_total metric.
  static double apiWrites();
  // API reads (get and list; watches not counted) made so far.
  static double apiReads();

  // An informer for `options`; the one already added when an earlier caller
  // asked for the same objects (handlers and indexes then accumulate on it).
  std::shared_ptr<Informer> addInformer(InformerOptions options);
  void addController(std::shared_ptr<Controller> controller);
  std::shared_ptr<kube::Client> client() const { return client_; }

  // Runs until `stop` fires. Returns 0 after a graceful stop, 1 when the
  // caches never synced or leadership was lost (the process should exit
  // and restart, as controller-runtime does).
  int run(kube::Cancellation& stop);

  bool ready() const;
  // Every controller's queue is empty and no reconcile is running (for
  // tests: with the cache holding a version, everything up to it was handled).
  bool controllersIdle() const;
  int httpPort() const { return http_.port(); }

 private:
  void startControllers();
  // Stops every controller in parallel; false when one did not drain in time.
  bool stopControllers(std::chrono::milliseconds drain);

  std::shared_ptr<kube::Client> client_;
  ManagerOptions options_;
  std::vector<std::shared_ptr<Informer>> informers_;
  std::vector<std::shared_ptr<Controller>> controllers_;
  HttpServer http_;
  bool controllers_running_ = false;
};

}  // namespace warren::runtime
