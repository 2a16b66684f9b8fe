// The module with warren's libcurl and libpq clients: the operator opens it on
// first use, refuses one of another layout, and never links those libraries.
#include "controllers/backend_clients.h"

#include <dlfcn.h>

#include <array>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

namespace warren::controllers {
namespace {

TEST(BackendClientsTest, OpensTheModuleOnceAndHandsOutItsClients) {
  auto first = loadBackendClients();
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_TRUE((*first)->offload);
  EXPECT_TRUE((*first)->management);
  auto second = loadBackendClients();
  ASSERT_TRUE(second);
  EXPECT_EQ(first->get(), second->get());
}

TEST(BackendClientsTest, ModuleConnectionsReportAnUnreachableBroker) {
  auto clients = loadBackendClients();
  ASSERT_TRUE(clients) << clients.error().describe();
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  auto transport = (*clients)->management({"http://127.0.0.1:1", "user", "password", std::chrono::milliseconds(2000)});
  auto answer = transport->send({"GET", "/api/overview", ""});
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().reason, "BrokerUnreachable");
}

TEST(BackendClientsTest, ModuleRefusesAnotherLayout) {
  void* module = dlopen(kBackendClientsModule, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(module, nullptr) << dlerror();
  auto entry = reinterpret_cast<BackendClientsEntry>(dlsym(module, kBackendClientsEntry));
  ASSERT_NE(entry, nullptr);
  BackendClients clients;
  EXPECT_FALSE(entry("warren-backend-clients/0", &clients));
  EXPECT_FALSE(clients.offload);
  EXPECT_FALSE(clients.management);
  dlclose(module);
}

TEST(BackendClientsTest, OperatorExecutableLinksNeitherLibcurlNorLibpq) {
  const std::string command = std::string("readelf -d '") + WARREN_OPERATOR_EXECUTABLE + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string dynamic;
  std::array<char, 4096> buffer{};
  size_t read = 0;
  while ((read = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) dynamic.append(buffer.data(), read);
  ASSERT_EQ(pclose(pipe), 0) << dynamic;
  ASSERT_NE(dynamic.find("libcpprest"), std::string::npos) << dynamic;  // the listing is real
  EXPECT_EQ(dynamic.find("libcurl"), std::string::npos) << dynamic;
  EXPECT_EQ(dynamic.find("libpq"), std::string::npos) << dynamic;
  EXPECT_NE(dynamic.find("lib/warren"), std::string::npos) << "no run path to the module:\n" << dynamic;
}

}  // namespace
}  // namespace warren::controllers
