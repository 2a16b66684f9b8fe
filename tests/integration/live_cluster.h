// Shared fixture for integration tests: a Client for the real local control
// plane named by $WARREN_TEST_KUBECONFIG (hack/test.sh brings the cluster up
// and sets it), and a fresh namespace per test, deleted afterwards.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "kube/client.h"
#include "kube/client_config.h"

namespace warren::testing {

// A test that cannot run here fails; it is skipped only when the
// environment variable WARREN_ALLOW_SKIP (a comma-separated list) names
// `group`, which CI never sets.
bool skipAllowed(const std::string& group);
#define WARREN_CANNOT_RUN(group, why)                                                              \
  do {                                                                                             \
    if (::warren::testing::skipAllowed(group)) GTEST_SKIP() << why;                                \
    FAIL() << why << " (set WARREN_ALLOW_SKIP=" << group << " to skip deliberately)";              \
  } while (false)

class LiveClusterTest : public ::testing::Test {
 public:
  // The admin client config (for building other clients).
  static const kube::ClientConfig& adminConfig();
  static std::shared_ptr<kube::Client> newAdminClient();

  // Polls `condition` every 100 ms until it holds or `timeout` passes.
  static bool eventually(const std::function<bool()>& condition,
                         std::chrono::milliseconds timeout = std::chrono::seconds(30));

 protected:
  void SetUp() override;
  void TearDown() override;

  kube::Client& client() { return *client_; }
  // The object `name` in this test's namespace, or null when it cannot be read.
  nlohmann::json get(const kube::ResourceType& type, const std::string& name) {
    auto object = client_->get(type, namespace_, name);
    return object ? *object : nlohmann::json();
  }
  const std::string& ns() const { return namespace_; }


  std::shared_ptr<kube::Client> client_;
  std::string namespace_;
};

}  // namespace warren::testing
