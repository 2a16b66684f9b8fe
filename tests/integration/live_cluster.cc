#include "live_cluster.h"

#include <cstdlib>
#include <random>
#include <thread>

#include "api/broker_cluster.h"
#include "api/offload_pipeline.h"
#include "controllers/broker_binding_controller.h"
#include "running_operator.h"
#include "runtime/object_helpers.h"

namespace warren::testing {

bool skipAllowed(const std::string& group) {
  const char* allowed = std::getenv("WARREN_ALLOW_SKIP");
  if (allowed == nullptr) return false;
  return ("," + std::string(allowed) + ",").find("," + group + ",") != std::string::npos;
}

void installCrds() {
  const char* root = std::getenv("WARREN_ROOT");
  const char* kubectl = std::getenv("WARREN_KUBECTL");
  ASSERT_TRUE(root && kubectl) << "run through hack/test.sh (WARREN_ROOT, WARREN_KUBECTL)";
  const std::string command = std::string(kubectl) + " --kubeconfig " + std::getenv("WARREN_TEST_KUBECONFIG") +
                              " apply --server-side --force-conflicts -f " + root + "/crds/ >/dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0);
  auto client = LiveClusterTest::newAdminClient();
  ASSERT_TRUE(LiveClusterTest::eventually([&] {
    return client->list(api::brokerClusters(), "default", {}).ok() &&
           client->list(controllers::brokerBindings(), "default", {}).ok() &&
           client->list(controllers::countingServices(), "default", {}).ok() &&
           client->list(api::offloadPipelines(), "default", {}).ok();
  }));
}

const kube::ClientConfig& LiveClusterTest::adminConfig() {
  static const kube::ClientConfig config = [] {
    const char* path = std::getenv("WARREN_TEST_KUBECONFIG");
    if (path == nullptr || *path == '\0') {
      ADD_FAILURE() << "WARREN_TEST_KUBECONFIG is not set: run the tests with hack/test.sh, "
                       "which starts the local control plane";
      return kube::ClientConfig{};
    }
    auto loaded = kube::loadKubeconfig({path});
    if (!loaded) {
      ADD_FAILURE() << loaded.error().message;
      return kube::ClientConfig{};
    }
    return *loaded;
  }();
  return config;
}

std::shared_ptr<kube::Client> LiveClusterTest::newAdminClient() {
  kube::ClientOptions options;
  options.qps = -1;  // tests create hundreds of objects; the server protects itself
  auto client = kube::Client::fromConfig(adminConfig(), options);
  if (!client) {
    ADD_FAILURE() << client.error().message;
    return nullptr;
  }
  return *client;
}

void LiveClusterTest::SetUp() {
  client_ = newAdminClient();
  ASSERT_NE(client_, nullptr);
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '-';
  name = "it-" + name.substr(0, 40) + "-" + std::to_string(std::random_device{}() % 100000);
  auto created = client_->create(kube::resources::namespaces(), "",
                                 {{"apiVersion", "v1"}, {"kind", "Namespace"},
                                  {"metadata", {{"name", name}}}},
                                 {});
  ASSERT_TRUE(created.ok()) << created.error().describe();
  namespace_ = name;
}

void LiveClusterTest::TearDown() {
  if (client_ && !namespace_.empty()) {
    (void)client_->remove(kube::resources::namespaces(), "", namespace_, {});
  }
}

Status setPodReady(kube::Client& client, const std::string& ns, const std::string& pod, bool ready) {
  const std::string status = ready ? "True" : "False";
  const std::string now = runtime::formatTime(std::chrono::system_clock::now());
  const nlohmann::json conditions = nlohmann::json::array(
      {{{"type", "Ready"}, {"status", status}, {"lastTransitionTime", now}},
       {{"type", "ContainersReady"}, {"status", status}, {"lastTransitionTime", now}}});
  auto patched = client.patchStatus(kube::resources::pods(), ns, pod, kube::PatchType::kStrategicMerge,
                                    {{"status", {{"conditions", conditions}}}}, {});
  if (!patched) return patched.error();
  return okStatus();
}

bool LiveClusterTest::eventually(const std::function<bool()>& condition,
                                 std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

}  // namespace warren::testing
