// The fuzz campaign through the real API server: for each kind, 200 seeded
// malformed objects (see malformed_objects.h) are applied while an
// ASan+UBSan build of warren-operator runs against the local control plane.
// Every object must be either rejected by the API server with the mutated
// field (or one above it) named, or accepted and reported by the operator in
// its main condition at the object's generation; the operator must never
// crash and its sanitizers must report nothing. Prints the counts.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "api/broker_binding.h"
#include "api/broker_cluster.h"
#include "api/counting_service.h"
#include "api/offload_pipeline.h"
#include "live_cluster.h"
#include "malformed_objects.h"
#include "running_operator.h"
#include "runtime/object_helpers.h"

extern char** environ;

namespace warren::fuzz {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr int kPerKind = 200;
constexpr unsigned kSeed = 20261202;

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}


class FuzzTest : public testing::LiveClusterTest {
 protected:
  static void SetUpTestSuite() { testing::installCrds(); }
};

struct Tally {
  int rejected = 0, rejected_named = 0, accepted = 0, reported = 0;
  std::map<std::string, int> reasons;
};

TEST_F(FuzzTest, MalformedCustomResourcesAreRejectedOrReportedAndNeverCrashTheOperator) {
  const char* binary = std::getenv("WARREN_ASAN_OPERATOR");
  if (binary == nullptr || *binary == '\0') {
    WARREN_CANNOT_RUN("fuzz", "WARREN_ASAN_OPERATOR (an ASan+UBSan build of warren-operator, built by hack/test.sh) is not set");
  }
  // The operator under test, sanitizers on, every report fatal and written to its log.
  const std::string log = ::testing::TempDir() + "fuzz-operator-" + ns() + ".log";
  const std::string kubeconfig = std::getenv("WARREN_TEST_KUBECONFIG");
  std::vector<std::string> args = {binary, "--kubeconfig", kubeconfig, "--namespace", ns(), "--http-bind-address", "0"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = {"ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=0",
                                          "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"};
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, binary, &actions, nullptr, argv.data(), envp.data()), 0);
  posix_spawn_file_actions_destroy(&actions);
  auto alive = [&] { return ::waitpid(pid, nullptr, WNOHANG) == 0; };
  ASSERT_TRUE(eventually([&] { return readFile(log).find("controller started") != std::string::npos || !alive(); }, 120s));
  ASSERT_TRUE(alive()) << readFile(log);

  // The cluster the bindings and counting services name, so they get past ClusterNotFound to their targets,
  // Secrets and Deployments.
  ASSERT_TRUE(client().create(api::brokerClusters(), ns(), json::parse(R"({
      "apiVersion": "warren.dev/v1alpha1", "kind": "BrokerCluster", "metadata": {"name": "bus"},
      "spec": {"replicas": 1, "persistence": {"ephemeral": true}, "mqtt": {"enabled": true}}})"), {}).ok());
  ASSERT_TRUE(eventually([&] {
    auto bus = client().get(api::brokerClusters(), ns(), "bus");
    return bus && !runtime::stringAt(*bus, "/status/activeNode"_json_pointer).empty();
  }, 120s)) << readFile(log);

  MalformedObjects generator(kSeed);
  std::map<std::string, Tally> tallies;
  struct Accepted {
    const kube::ResourceType* type;
    std::string name, condition;
  };
  std::vector<Accepted> accepted;
  const std::vector<std::tuple<std::string, const kube::ResourceType*, std::string>> kinds = {
      {"BrokerCluster", &api::brokerClusters(), "ReconcileSuccess"},
      {"BrokerBinding", &api::brokerBindings(), "Bound"},
      {"CountingService", &api::countingServices(), "Ready"},
      {"OffloadPipeline", &api::offloadPipelines(), "Ready"}};
  for (const auto& [kind, type, condition] : kinds) {
    Tally& tally = tallies[kind];
    for (const auto& m : generator.generate(kind, kPerKind, kind == "BrokerCluster"     ? "bc"
                                                            : kind == "BrokerBinding" ? "bb"
                                                            : kind == "OffloadPipeline" ? "op"
                                                                                        : "cs")) {
      auto created = client().create(*type, ns(), m.object, {});
      if (created) {
        ++tally.accepted;
        accepted.push_back({type, m.object["metadata"]["name"], condition});
        continue;
      }
      ASSERT_TRUE(created.error().isInvalid() || created.error().http_status == 400)
          << kind << " " << m.path << " (" << m.mutation << "): " << created.error().describe();
      ++tally.rejected;
      // The message names the mutated field or one above it (a parent of the wrong shape).
      bool named = false;
      for (std::string path = m.path; !path.empty() && !named;) {
        named = created.error().message.find(path) != std::string::npos;
        const size_t cut = std::max(path.rfind('.'), path.rfind('[') == std::string::npos ? 0 : path.rfind('['));
        path = cut == std::string::npos || cut == 0 ? "" : path.substr(0, cut);
      }
      if (named) {
        ++tally.rejected_named;
      } else {
        ADD_FAILURE() << kind << " " << m.path << " (" << m.mutation << ") was rejected without naming it: "
                      << created.error().message.substr(0, 400);
      }
    }
    ASSERT_TRUE(alive()) << "the operator died during the " << kind << " campaign:\n" << readFile(log);
  }

  // Every accepted object is reported: its main condition at its current generation (one deadline for all).
  std::map<size_t, std::string> reported;  // index in `accepted` -> reason
  eventually([&] {
    for (size_t i = 0; i < accepted.size(); ++i) {
      if (reported.count(i) != 0) continue;
      auto object = client().get(*accepted[i].type, ns(), accepted[i].name);
      if (!object) continue;
      const json conditions = object->value("/status/conditions"_json_pointer, json::array());
      const json* c = runtime::findCondition(conditions, accepted[i].condition);
      if (c != nullptr && object->value("/status/observedGeneration"_json_pointer, 0LL) ==
                              object->value("/metadata/generation"_json_pointer, -1LL)) {
        reported[i] = c->value("reason", "");
      }
    }
    return reported.size() == accepted.size();
  }, 300s);
  for (size_t i = 0; i < accepted.size(); ++i) {
    Tally& tally = tallies[accepted[i].type->kind];
    if (auto it = reported.find(i); it != reported.end()) {
      ++tally.reported;
      ++tally.reasons[it->second];
    } else {
      ADD_FAILURE() << accepted[i].type->kind << " " << accepted[i].name << " was accepted but never reported";
    }
  }
  ASSERT_TRUE(alive()) << "the operator died:\n" << readFile(log);

  // Pipelines carry a finalizer: deleted while the operator runs, so the namespace can go.
  for (const auto& item : accepted) {
    if (item.type == &api::offloadPipelines()) (void)client().remove(*item.type, ns(), item.name, {});
  }
  EXPECT_TRUE(eventually([&] {
    auto left = client().list(api::offloadPipelines(), ns(), {});
    return left && left->value("items", json::array()).empty();
  }, 120s)) << "pipelines left after deletion";
  ASSERT_TRUE(alive()) << "the operator died deleting pipelines:\n" << readFile(log);

  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the operator did not stop cleanly";
  const std::string output = readFile(log);
  for (const char* report : {"AddressSanitizer", "UndefinedBehaviorSanitizer", "runtime error:", "LeakSanitizer"}) {
    EXPECT_EQ(output.find(report), std::string::npos) << "sanitizer report (" << report << "):\n" << output;
  }
  for (const auto& [kind, t] : tallies) {
    std::cout << "fuzz " << kind << ": " << kPerKind << " objects, " << t.rejected << " rejected by the API server ("
              << t.rejected_named << " naming the field), " << t.accepted << " accepted (" << t.reported
              << " reported in a condition:";
    for (const auto& [reason, n] : t.reasons) std::cout << " " << reason << "=" << n;
    std::cout << ")" << std::endl;
  }
}

}  // namespace
}  // namespace warren::fuzz
