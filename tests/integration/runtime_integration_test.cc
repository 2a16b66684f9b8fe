// The controller runtime against the real local control plane: informer
// convergence, an API server restart and an etcd compaction during a watch,
// the sample mirror controller with the real garbage collector, and leader
// election between real processes.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "kube/cpprest_transport.h"
#include "kube/tls_material.h"
#include "kube/token_source.h"
#include "live_cluster.h"
#include "mirror_controller.h"
#include "runtime/informer.h"
#include "runtime/manager.h"

extern char** environ;

namespace warren::runtime {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using testing::LiveClusterTest;

json configMap(const std::string& name, const json& labels = json::object(), const json& data = {{"k", "v"}}) {
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"labels", labels}}}, {"data", data}};
}

// Runs hack/local-cluster.sh with the given arguments.
void localCluster(const std::string& args) {
  const char* root = std::getenv("WARREN_ROOT");
  ASSERT_NE(root, nullptr) << "WARREN_ROOT is not set (run through hack/test.sh)";
  const std::string command = std::string(root) + "/hack/local-cluster.sh " + args + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

// POSTs to etcd's gRPC gateway with our own transport.
json etcdPost(const std::string& path, const json& body) {
  const char* etcd = std::getenv("WARREN_TEST_ETCD_URL");
  if (etcd == nullptr) return json();
  auto transport = kube::CpprestTransport::create(etcd, {}, std::chrono::seconds(10), "warren-test");
  if (!transport) return json();
  kube::HttpRequest request;
  request.method = "POST";
  request.path = path;
  request.content_type = "application/json";
  request.body = body.dump();
  auto response = (*transport)->send(request);
  if (!response || response->status != 200) return json();
  return json::parse(response->body, nullptr, false);
}

// Map of key -> resourceVersion, from a fresh list or from a cache.
std::map<std::string, std::string> versions(const json& list) {
  std::map<std::string, std::string> out;
  for (const auto& item : list["items"]) out[objectKey(item)] = item["metadata"]["resourceVersion"];
  return out;
}
std::map<std::string, std::string> versions(const Store& store) {
  std::map<std::string, std::string> out;
  for (const auto& object : store.list()) out[objectKey(*object)] = (*object)["metadata"]["resourceVersion"];
  return out;
}

class RuntimeIntegrationTest : public LiveClusterTest {
 protected:
  std::shared_ptr<Informer> startInformer(const std::string& label_selector) {
    InformerOptions options{kube::resources::configMaps(), ns(), label_selector, ""};
    options.watcher.backoff.initial = 200ms;  // reconnect promptly after an outage
    options.watcher.backoff.max = 2000ms;
    auto informer = Informer::forClient(newAdminClient(), options);
    informer->start();
    EXPECT_TRUE(informer->waitForSync(30s));
    return informer;
  }
  // Waits until the cache holds exactly what a fresh list returns.
  bool converges(const Informer& informer, const std::string& label_selector) {
    kube::ListOptions options;
    options.label_selector = label_selector;
    return eventually([&] {
      auto list = client().listAll(kube::resources::configMaps(), ns(), options);
      return list.ok() && versions(*list) == versions(informer.store());
    }, 60s);
  }
};

TEST_F(RuntimeIntegrationTest, InformerConvergesOn1000ConcurrentCreates) {
  auto informer = startInformer("suite=converge");
  EXPECT_EQ(informer->store().size(), 0u);
  std::atomic<int> failures{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> writers;
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&, w] {
      auto c = newAdminClient();
      for (int i = w; i < 1000; i += 8) {
        if (!c->create(kube::resources::configMaps(), ns(), configMap("c-" + std::to_string(i), {{"suite", "converge"}}), {})) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_TRUE(eventually([&] { return informer->store().size() == 1000; }, 60s))
      << "cache holds " << informer->store().size();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "1000 concurrent creates seen by the informer in " << seconds << " s ("
            << 1000 / seconds << " events/s end to end)" << std::endl;
  EXPECT_TRUE(converges(*informer, "suite=converge"));
  // A ConfigMap outside the selector is never held.
  ASSERT_TRUE(client().create(kube::resources::configMaps(), ns(), configMap("other"), {}).ok());
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(informer->store().get(objectKey(ns(), "other")), nullptr);
  informer->stop();
}

TEST_F(RuntimeIntegrationTest, CacheConvergesAfterApiServerRestartDuringWatch) {
  auto informer = startInformer("suite=restart");
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(client().create(kube::resources::configMaps(), ns(), configMap("r-" + std::to_string(i), {{"suite", "restart"}}), {}).ok());
  }
  ASSERT_TRUE(converges(*informer, "suite=restart"));
  const int watches_before = informer->watcher().watchStarts();

  localCluster("stop kube-apiserver");
  std::this_thread::sleep_for(1s);
  localCluster("start kube-apiserver");

  // Changes right after the restart, while the informer may still be
  // reconnecting: none may be missed.
  auto fresh = newAdminClient();
  for (int i = 30; i < 60; ++i) {
    ASSERT_TRUE(eventually([&] {
      return fresh->create(kube::resources::configMaps(), ns(), configMap("r-" + std::to_string(i), {{"suite", "restart"}}), {}).ok();
    }, 30s));
  }
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(fresh->patch(kube::resources::configMaps(), ns(), "r-" + std::to_string(i), kube::PatchType::kMerge,
                             {{"data", {{"k", "changed"}}}}, {}).ok());
    ASSERT_TRUE(fresh->remove(kube::resources::configMaps(), ns(), "r-" + std::to_string(10 + i), {}).ok());
  }
  EXPECT_TRUE(converges(*informer, "suite=restart"));
  EXPECT_EQ(informer->store().size(), 50u);
  EXPECT_EQ((*informer->store().get(objectKey(ns(), "r-3")))["data"]["k"], "changed");
  EXPECT_GT(informer->watcher().watchStarts(), watches_before);
  informer->stop();
}

TEST_F(RuntimeIntegrationTest, CompactedHistoryForcesARelist) {
  if (std::getenv("WARREN_TEST_ETCD_URL") == nullptr) GTEST_SKIP() << "WARREN_TEST_ETCD_URL not set";
  auto informer = startInformer("suite=compact");
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(client().create(kube::resources::configMaps(), ns(), configMap("k-" + std::to_string(i), {{"suite", "compact"}}), {}).ok());
  }
  ASSERT_TRUE(converges(*informer, "suite=compact"));
  const int relists_before = informer->watcher().relists();

  // With the API server down, move etcd's revision on directly and compact
  // it away: the informer's resourceVersion is then too old to resume from.
  localCluster("stop kube-apiserver");
  for (int i = 0; i < 5; ++i) {
    ASSERT_FALSE(etcdPost("/v3/kv/put", {{"key", kube::base64Encode("/warren-test/bump")},
                                         {"value", kube::base64Encode(std::to_string(i))}}).is_null());
  }
  const json range = etcdPost("/v3/kv/range", {{"key", kube::base64Encode("/")}});
  ASSERT_FALSE(range.is_null());
  ASSERT_FALSE(etcdPost("/v3/kv/compaction", {{"revision", range["header"]["revision"]}, {"physical", true}}).is_null());
  localCluster("start kube-apiserver");

  auto fresh = newAdminClient();
  ASSERT_TRUE(eventually([&] {
    return fresh->remove(kube::resources::configMaps(), ns(), "k-0", {}).ok();
  }, 30s));
  ASSERT_TRUE(fresh->create(kube::resources::configMaps(), ns(), configMap("k-new", {{"suite", "compact"}}), {}).ok());
  EXPECT_TRUE(eventually([&] { return informer->watcher().relists() > relists_before; }, 60s))
      << "no relist after the informer's resourceVersion was compacted";
  EXPECT_TRUE(converges(*informer, "suite=compact"));
  EXPECT_EQ(informer->store().get(objectKey(ns(), "k-0")), nullptr);
  EXPECT_NE(informer->store().get(objectKey(ns(), "k-new")), nullptr);
  informer->stop();
}

TEST_F(RuntimeIntegrationTest, MirrorControllerOwnsItsChildAndTheGarbageCollectorDeletesIt) {
  ManagerOptions options;
  options.http_address = "";
  Manager manager(newAdminClient(), options);
  auto reconciler = testing::addMirrorController(manager, ns(), 2);
  kube::Cancellation stop;
  int exit_code = -1;
  std::thread runner([&] { exit_code = manager.run(stop); });
  struct StopOnExit {
    kube::Cancellation& stop;
    std::thread& runner;
    ~StopOnExit() {
      stop.cancel();
      if (runner.joinable()) runner.join();
    }
  } stop_on_exit{stop, runner};

  ASSERT_TRUE(client().create(kube::resources::configMaps(), ns(),
                              configMap("src", {{"warren.dev/mirror", "true"}}, {{"a", "1"}}), {}).ok());
  json mirror;
  ASSERT_TRUE(eventually([&] {
    auto got = client().get(kube::resources::configMaps(), ns(), "src-mirror");
    if (got) mirror = *got;
    return got.ok();
  }));
  EXPECT_EQ(mirror["data"]["a"], "1");
  const auto& owner = mirror["metadata"]["ownerReferences"][0];
  EXPECT_EQ(owner["kind"], "ConfigMap");
  EXPECT_EQ(owner["name"], "src");
  EXPECT_EQ(owner["controller"], true);
  EXPECT_EQ(owner["blockOwnerDeletion"], true);

  ASSERT_TRUE(client().patch(kube::resources::configMaps(), ns(), "src", kube::PatchType::kMerge,
                             {{"data", {{"a", "2"}}}}, {}).ok());
  EXPECT_TRUE(eventually([&] {
    auto got = client().get(kube::resources::configMaps(), ns(), "src-mirror");
    return got && (*got)["data"]["a"] == "2";
  }));

  // Deleting the child brings it back: the controller watches what it owns.
  ASSERT_TRUE(client().remove(kube::resources::configMaps(), ns(), "src-mirror", {}).ok());
  EXPECT_TRUE(eventually([&] { return client().get(kube::resources::configMaps(), ns(), "src-mirror").ok(); }));

  // Steady state: nothing changes, so nothing is written.
  std::this_thread::sleep_for(1s);
  const int writes = reconciler->writes.load();
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(reconciler->writes.load(), writes);

  // Deleting the owner: kube-controller-manager's garbage collector removes the child.
  ASSERT_TRUE(client().remove(kube::resources::configMaps(), ns(), "src", {}).ok());
  EXPECT_TRUE(eventually([&] {
    auto got = client().get(kube::resources::configMaps(), ns(), "src-mirror");
    return !got && got.error().isNotFound();
  }, 60s)) << "the garbage collector did not delete the owned mirror";

  stop.cancel();
  runner.join();
  EXPECT_EQ(exit_code, 0);
}

// --- Leader election between real processes ---------------------------------

struct Process {
  pid_t pid = -1;
  std::string identity;
  std::string output;
};

Process spawnSampleOperator(const std::string& ns, const std::string& identity) {
  Process process;
  process.identity = identity;
  process.output = ::testing::TempDir() + "sample-" + ns + "-" + identity + ".log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, process.output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, (process.output + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const std::string kubeconfig = std::getenv("WARREN_TEST_KUBECONFIG");
  std::vector<std::string> args = {WARREN_SAMPLE_OPERATOR, kubeconfig, ns, identity};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (posix_spawn(&process.pid, WARREN_SAMPLE_OPERATOR, &actions, nullptr, argv.data(), environ) != 0) {
    process.pid = -1;
  }
  posix_spawn_file_actions_destroy(&actions);
  return process;
}

struct Interval {
  long long start, end;
  std::string who;
};

// Reconcile intervals from a sample operator's output; one still open ends at `cutoff`.
std::vector<Interval> reconcileIntervals(const Process& process, long long cutoff) {
  std::vector<Interval> out;
  std::map<std::string, long long> open;
  std::ifstream in(process.output);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string tag, phase, key;
    long long micros = 0;
    if (!(fields >> tag >> phase >> key >> micros) || tag != "RECONCILE") continue;
    if (phase == "start") {
      open[key] = micros;
    } else if (auto it = open.find(key); it != open.end()) {
      out.push_back({it->second, micros, process.identity});
      open.erase(it);
    }
  }
  for (const auto& [key, start] : open) out.push_back({start, cutoff, process.identity});
  return out;
}

long long nowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST_F(RuntimeIntegrationTest, LeaderElectionHandsOverAndNeverOverlaps) {
  auto holder = [&]() -> std::string {
    auto lease = client().get(kube::resources::leases(), ns(), "sample-operator");
    return lease ? (*lease)["spec"].value("holderIdentity", "") : "";
  };
  std::vector<Process> processes = {spawnSampleOperator(ns(), "a"), spawnSampleOperator(ns(), "b")};
  ASSERT_GT(processes[0].pid, 0);
  ASSERT_GT(processes[1].pid, 0);
  ASSERT_TRUE(eventually([&] { return !holder().empty(); }, 30s));
  const std::string first = holder();

  // Keep the controller busy with work throughout.
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    auto c = newAdminClient();
    for (int i = 0; writing; ++i) {
      (void)c->create(kube::resources::configMaps(), ns(), configMap("le-" + std::to_string(i), {{"warren.dev/mirror", "true"}}), {});
      std::this_thread::sleep_for(150ms);
    }
  });
  std::this_thread::sleep_for(3s);

  // kill -9 the leader: the other takes over once the lease expires.
  // Copies, not references: `processes` grows below.
  const Process leader = first == "a" ? processes[0] : processes[1];
  const std::string second = first == "a" ? "b" : "a";
  const long long killed_at = nowMicros();
  ::kill(leader.pid, SIGKILL);
  ::waitpid(leader.pid, nullptr, 0);
  const auto kill_time = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return holder() == second; }, 60s)) << "no takeover after kill -9";
  const double takeover_after_kill = std::chrono::duration<double>(std::chrono::steady_clock::now() - kill_time).count();
  std::cout << "takeover after kill -9 of the leader: " << takeover_after_kill << " s" << std::endl;

  // A third candidate, then SIGTERM the current leader: it releases the
  // lease, so the takeover beats the 15 s lease expiry.
  processes.push_back(spawnSampleOperator(ns(), "c"));
  std::this_thread::sleep_for(3s);
  const Process current = second == "a" ? processes[0] : processes[1];
  const auto term_time = std::chrono::steady_clock::now();
  ::kill(current.pid, SIGTERM);
  ASSERT_TRUE(eventually([&] { return holder() == "c"; }, 30s));
  const double takeover_after_term = std::chrono::duration<double>(std::chrono::steady_clock::now() - term_time).count();
  std::cout << "takeover after SIGTERM of the leader: " << takeover_after_term << " s" << std::endl;
  EXPECT_LT(takeover_after_term, 15.0) << "the lease was not released on SIGTERM";
  int status = 0;
  ::waitpid(current.pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "SIGTERM did not stop the process cleanly";

  std::this_thread::sleep_for(2s);
  writing = false;
  writer.join();
  ::kill(processes[2].pid, SIGTERM);
  ::waitpid(processes[2].pid, nullptr, 0);

  // Every process reconciled while leading, and no two reconciles of
  // different processes overlap in time.
  std::vector<Interval> all;
  for (const auto& p : processes) {
    auto intervals = reconcileIntervals(p, p.identity == leader.identity ? killed_at : nowMicros());
    EXPECT_FALSE(intervals.empty()) << p.identity << " never reconciled";
    all.insert(all.end(), intervals.begin(), intervals.end());
  }
  std::sort(all.begin(), all.end(), [](const Interval& x, const Interval& y) { return x.start < y.start; });
  for (size_t i = 0; i + 1 < all.size(); ++i) {
    for (size_t j = i + 1; j < all.size() && all[j].start < all[i].end; ++j) {
      EXPECT_EQ(all[i].who, all[j].who) << "processes " << all[i].who << " and " << all[j].who
                                        << " reconciled at the same time";
    }
  }
}

// A leader that is frozen (SIGSTOP) for longer than the lease: the other
// process takes over, and when the first wakes up — with reconciles queued
// from events it saw before the freeze and more arriving — it sends no
// write (its client's writes are fenced by the lease on its own monotonic
// clock) and exits non-zero. The API server's managedFields, per process
// field manager, are the evidence.
TEST_F(RuntimeIntegrationTest, AFrozenLeaderWakesUpWritesNothingAndExits) {
  auto holder = [&]() -> std::string {
    auto lease = client().get(kube::resources::leases(), ns(), "sample-operator");
    return lease ? (*lease)["spec"].value("holderIdentity", "") : "";
  };
  std::vector<Process> processes = {spawnSampleOperator(ns(), "p"), spawnSampleOperator(ns(), "q")};
  ASSERT_GT(processes[0].pid, 0);
  ASSERT_GT(processes[1].pid, 0);
  ASSERT_TRUE(eventually([&] { return !holder().empty(); }, 30s));
  const Process leader = holder() == "p" ? processes[0] : processes[1];
  const Process other = holder() == "p" ? processes[1] : processes[0];
  const std::string frozen_manager = "warren-mirror-" + leader.identity;

  // The leader is working: a source gets its mirror, written by the leader.
  ASSERT_TRUE(client().create(kube::resources::configMaps(), ns(), configMap("before", {{"warren.dev/mirror", "true"}}), {}).ok());
  ASSERT_TRUE(eventually([&] { return client().get(kube::resources::configMaps(), ns(), "before-mirror").ok(); }, 30s));

  ::kill(leader.pid, SIGSTOP);
  // While it sleeps, the sources keep changing, so it wakes up with work queued and events to catch up on.
  ASSERT_TRUE(eventually([&] { return holder() == other.identity; }, 60s)) << "no takeover while the leader was frozen";
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client().create(kube::resources::configMaps(), ns(),
                                configMap("during-" + std::to_string(i), {{"warren.dev/mirror", "true"}}), {}).ok());
  }
  ASSERT_TRUE(eventually([&] { return client().get(kube::resources::configMaps(), ns(), "during-4-mirror").ok(); }, 30s))
      << "the new leader does not work";
  // Its sources' data changes too: the frozen process's cache is stale for every one of them.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client().patch(kube::resources::configMaps(), ns(), "during-" + std::to_string(i), kube::PatchType::kMerge,
                               {{"data", {{"changed", "yes"}}}}, {}).ok());
  }
  const auto woke_at = std::chrono::system_clock::now();
  ::kill(leader.pid, SIGCONT);
  int status = 0;
  bool exited = false;
  ASSERT_TRUE(eventually([&] {
    exited = ::waitpid(leader.pid, &status, WNOHANG) == leader.pid;
    return exited;
  }, 30s)) << "the former leader did not exit after waking up";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << "losing the lease must end the process with an error";
  ASSERT_TRUE(eventually([&] {
    auto mirror = client().get(kube::resources::configMaps(), ns(), "during-4-mirror");
    return mirror && mirror->value("/data/changed"_json_pointer, std::string()) == "yes";
  }, 30s));

  // No object carries a write of the frozen process from after it woke up.
  auto mirrors = client().list(kube::resources::configMaps(), ns(), {});
  ASSERT_TRUE(mirrors.ok());
  int frozen_entries = 0;
  for (const auto& item : (*mirrors)["items"]) {
    for (const auto& entry : item.value("/metadata/managedFields"_json_pointer, json::array())) {
      if (entry.value("manager", "") != frozen_manager) continue;
      ++frozen_entries;
      const auto at = kube::parseRfc3339(entry.value("time", ""));
      ASSERT_TRUE(at.has_value());
      EXPECT_LT(*at, std::chrono::time_point_cast<std::chrono::seconds>(woke_at))
          << item["metadata"]["name"] << " was written by the former leader after it woke up";
    }
  }
  EXPECT_GE(frozen_entries, 1) << "the leader never wrote; the test proves nothing";
  ::kill(other.pid, SIGTERM);
  ::waitpid(other.pid, nullptr, 0);
}

}  // namespace
}  // namespace warren::runtime
