// Runtime figures against the real local control plane (reported, never
// asserted): resident memory of an informer holding 10,000 ConfigMaps, and
// reconciles per second of the sample mirror controller.
//
//   WARREN_TEST_KUBECONFIG=... warren_runtime_bench [objects]
#include <fstream>
#include <iostream>
#include <thread>
#include <unistd.h>

#include "bench_cluster.h"
#include "mirror_controller.h"
#include "runtime/informer.h"
#include "runtime/manager.h"
#include "runtime/object_helpers.h"

namespace {

using json = nlohmann::json;

long residentKiB() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

void createMany(warren::kube::Client& client, const std::string& ns, const std::string& prefix, int count,
                const json& labels) {
  std::vector<std::thread> writers;
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&, w] {
      for (int i = w; i < count; i += 8) {
        (void)client.create(warren::kube::resources::configMaps(), ns,
                            {{"apiVersion", "v1"}, {"kind", "ConfigMap"},
                             {"metadata", {{"name", prefix + std::to_string(i)}, {"labels", labels}}},
                             {"data", {{"rabbitmq.conf", std::string(256, 'x')}, {"enabled_plugins", "[rabbitmq_management]."}}}},
                            {});
      }
    });
  }
  for (auto& t : writers) t.join();
}

double cachedBytesPerObject(warren::runtime::Informer& informer) {
  size_t bytes = 0, count = 0;
  for (const auto& object : informer.store().list()) {
    bytes += object->dump().size();
    ++count;
  }
  return count == 0 ? 0.0 : static_cast<double>(bytes) / count;
}

}  // namespace

int main(int argc, char** argv) {
  const int objects = argc > 1 ? std::atoi(argv[1]) : 10000;
  auto client = warren::bench::unlimitedClient();
  const std::string ns = warren::bench::createNamespace(*client, "bench");

  auto start = std::chrono::steady_clock::now();
  createMany(*client, ns, "cm-", objects, {{"bench", "memory"}});
  std::cout << "created " << objects << " ConfigMaps in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s\n";

  const long before = residentKiB();
  {
    auto informer = warren::runtime::Informer::forClient(
        client, {warren::kube::resources::configMaps(), ns, "bench=memory", ""});
    informer->start();
    informer->waitForSync(std::chrono::minutes(5));
    const long after = residentKiB();
    std::cout << "informer holding " << informer->store().size() << " ConfigMaps: resident memory +"
              << (after - before) / 1024.0 << " MiB (" << (after - before) * 1024.0 / objects
              << " bytes per object; total RSS " << after / 1024.0 << " MiB); cached JSON "
              << cachedBytesPerObject(*informer) << " bytes per object\n";
    informer->stop();
  }
  {
    // As BrokerBinding watches its ConfigMap targets: metadata only, pruned
    // to the identity (RSS is not compared: the allocator keeps what the
    // first informer freed).
    warren::runtime::InformerOptions options{warren::kube::resources::configMaps(), ns, "bench=memory", ""};
    options.metadata_only = true;
    options.transform_name = warren::runtime::kKeepIdentityOnly;
    options.transform = warren::runtime::keepIdentityOnly;
    auto informer = warren::runtime::Informer::forClient(client, options);
    start = std::chrono::steady_clock::now();
    informer->start();
    informer->waitForSync(std::chrono::minutes(5));
    std::cout << "metadata-only informer holding " << informer->store().size() << " ConfigMaps: synced in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s; cached JSON "
              << cachedBytesPerObject(*informer) << " bytes per object\n";
    informer->stop();
  }

  // Reconciles/s: the mirror controller copies 500 labelled ConfigMaps.
  const int sources = 500;
  createMany(*client, ns, "src-", sources, {{"warren.dev/mirror", "true"}});
  warren::runtime::ManagerOptions manager_options;
  manager_options.http_address = "";
  warren::runtime::Manager manager(client, manager_options);
  auto reconciler = warren::testing::addMirrorController(manager, ns, 4);
  warren::kube::Cancellation stop;
  start = std::chrono::steady_clock::now();
  std::thread runner([&] { manager.run(stop); });
  while (reconciler->writes.load() < sources &&
         std::chrono::steady_clock::now() - start < std::chrono::minutes(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "mirror controller: " << reconciler->writes.load() << " reconciles with a write in " << seconds
            << " s = " << reconciler->writes.load() / seconds << " reconciles/s (4 workers)\n";
  stop.cancel();
  runner.join();
  (void)client->remove(warren::kube::resources::namespaces(), "", ns, {});
  return 0;
}
