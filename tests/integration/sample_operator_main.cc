// warren-sample-operator: a test-only operator process running the mirror
// controller under leader election. It prints one line per reconcile start
// and end ("RECONCILE <start|end> <key> <microseconds since epoch>") so the
// leader-election test can prove two processes never reconcile at once, and
// writes under the field manager "warren-mirror-IDENTITY" so the API
// server's managedFields show when each process last wrote.
//
//   warren-sample-operator KUBECONFIG NAMESPACE IDENTITY
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

#include "app/shutdown.h"
#include "common/log.h"
#include "kube/client_config.h"
#include "mirror_controller.h"

int main(int argc, char** argv) {
  warren::app::ShutdownSignal::instance().install();
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s KUBECONFIG NAMESPACE IDENTITY\n", argv[0]);
    return 2;
  }
  auto config = warren::kube::loadKubeconfig({argv[1]});
  if (!config) {
    std::fprintf(stderr, "%s\n", config.error().message.c_str());
    return 2;
  }
  auto client = warren::kube::Client::fromConfig(*config);
  if (!client) return 2;
  warren::runtime::ManagerOptions options;
  options.http_address = "";
  options.leader_elect = true;
  options.leader_election.lease_namespace = argv[2];
  options.leader_election.lease_name = "sample-operator";
  options.leader_election.identity = argv[3];
  options.graceful_shutdown = std::chrono::seconds(10);
  warren::runtime::Manager manager(*client, options);
  auto reconciler = warren::testing::addMirrorController(manager, argv[2], 2);
  // Its own field manager, so managedFields on the API server tell which process wrote what, and when.
  reconciler->field_manager = std::string("warren-mirror-") + argv[3];
  reconciler->on_reconcile = [](const warren::runtime::Request& request, bool started) {
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    std::printf("RECONCILE %s %s %lld\n", started ? "start" : "end", request.key().c_str(),
                static_cast<long long>(micros));
    std::fflush(stdout);
  };
  warren::kube::Cancellation stop;
  std::thread([&stop] {
    while (!warren::app::ShutdownSignal::instance().waitFor(std::chrono::seconds(3600))) {
    }
    stop.cancel();
  }).detach();
  return manager.run(stop);
}
