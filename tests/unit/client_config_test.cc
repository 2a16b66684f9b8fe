#include "kube/client_config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube/tls_material.h"
#include "test_pki.h"

namespace warren::kube {
namespace {

using ::testing::HasSubstr;

class KubeconfigTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ca_ = new testing::TestCert(testing::makeSelfSignedCert("test-ca"));
    client_ = new testing::TestCert(testing::makeSelfSignedCert("test-user"));
  }
  static void TearDownTestSuite() {
    delete ca_;
    delete client_;
  }
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("warren-kubeconfig-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  // A valid kubeconfig; `user` replaces the user body.
  static std::string config(const std::string& user, const std::string& cluster_extra = "") {
    return "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
           "clusters:\n- name: local\n  cluster:\n    server: https://127.0.0.1:6443\n"
           "    certificate-authority-data: " + base64Encode(ca_->cert_pem) + "\n" + cluster_extra +
           "users:\n- name: admin\n  user:\n" + user +
           "contexts:\n- name: dev\n  context:\n    cluster: local\n    user: admin\n"
           "    namespace: team-a\n";
  }
  static std::string certUser() {
    return "    client-certificate-data: " + base64Encode(client_->cert_pem) + "\n" +
           "    client-key-data: " + base64Encode(client_->key_pem) + "\n";
  }

  Result<ClientConfig> parse(const std::string& text, const std::string& context = "") {
    return parseKubeconfig(text, "/cfg/kubeconfig", dir_.string(), context);
  }

  // Asserts the text is rejected with a message naming `field`.
  void expectRejected(const std::string& text, const std::string& field,
                      const std::string& context = "") {
    auto result = parse(text, context);
    ASSERT_FALSE(result.ok()) << "accepted a kubeconfig with a bad " << field;
    EXPECT_EQ(result.error().reason, "InvalidConfig");
    EXPECT_THAT(result.error().message, HasSubstr("/cfg/kubeconfig"));
    EXPECT_THAT(result.error().message, HasSubstr(field));
  }

  static testing::TestCert* ca_;
  static testing::TestCert* client_;
  std::filesystem::path dir_;
};

testing::TestCert* KubeconfigTest::ca_ = nullptr;
testing::TestCert* KubeconfigTest::client_ = nullptr;

TEST_F(KubeconfigTest, ClientCertificateFromInlineData) {
  auto result = parse(config(certUser()));
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->server, "https://127.0.0.1:6443");
  EXPECT_EQ(result->tls.ca_pem, ca_->cert_pem);
  EXPECT_EQ(result->tls.client_cert_pem, client_->cert_pem);
  EXPECT_EQ(result->tls.client_key_pem, client_->key_pem);
  EXPECT_EQ(result->default_namespace, "team-a");
  EXPECT_THAT(result->origin, HasSubstr("context dev"));
}

TEST_F(KubeconfigTest, FilesAreResolvedRelativeToTheKubeconfig) {
  write("ca.crt", ca_->cert_pem);
  write("client.crt", client_->cert_pem);
  write("client.key", client_->key_pem);
  const std::string text =
      "current-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://h:1\n"
      "    certificate-authority: ca.crt\n"
      "users:\n- name: u\n  user:\n    client-certificate: client.crt\n    client-key: " +
      (dir_ / "client.key").string() + "\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n";
  auto result = parse(text);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->tls.ca_pem, ca_->cert_pem);
  EXPECT_EQ(result->tls.client_key_pem, client_->key_pem);
  EXPECT_EQ(result->default_namespace, "default");
}

TEST_F(KubeconfigTest, TokenAndTokenFile) {
  auto with_token = parse(config("    token: abc.def\n"));
  ASSERT_TRUE(with_token.ok()) << with_token.error().message;
  EXPECT_EQ(with_token->auth.token, "abc.def");
  write("token", "from-file\n");
  auto with_file = parse(config("    tokenFile: token\n"));
  ASSERT_TRUE(with_file.ok()) << with_file.error().message;
  EXPECT_EQ(with_file->auth.token_file, (dir_ / "token").string());
}

TEST_F(KubeconfigTest, ExecPlugin) {
  auto result = parse(config(
      "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: get-token\n"
      "      args: [--cluster, prod]\n      env:\n      - name: REGION\n        value: eu\n"));
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_TRUE(result->auth.exec.has_value());
  EXPECT_EQ(result->auth.exec->command, "get-token");
  EXPECT_EQ(result->auth.exec->args, (std::vector<std::string>{"--cluster", "prod"}));
  ASSERT_EQ(result->auth.exec->env.size(), 1u);
  EXPECT_EQ(result->auth.exec->env[0].first, "REGION");
}

TEST_F(KubeconfigTest, ContextOverrideSelectsAnotherContext) {
  const std::string text = config("    token: t\n") +
                           "- name: other\n  context:\n    cluster: local\n    user: admin\n";
  auto result = parse(text, "other");
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->default_namespace, "default");
  EXPECT_THAT(result->origin, HasSubstr("context other"));
}

TEST_F(KubeconfigTest, InsecureSkipVerifyWithoutCa) {
  const std::string text =
      "current-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://h:1\n"
      "    insecure-skip-tls-verify: true\ncontexts:\n- name: c\n  context: {cluster: k}\n";
  auto result = parse(text);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_TRUE(result->tls.insecure_skip_verify);
}

TEST_F(KubeconfigTest, MergesFilesFirstDefinitionWins) {
  const auto first = write("a", "current-context: dev\nclusters:\n- name: local\n  cluster:\n"
                                "    server: https://first:1\n");
  const auto second = write("b", config("    token: t\n"));
  auto result = loadKubeconfig({first, second});
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->server, "https://first:1");
  EXPECT_EQ(result->auth.token, "t");
}

TEST_F(KubeconfigTest, MissingFileIsNamed) {
  auto result = loadKubeconfig({(dir_ / "nope").string()});
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message, HasSubstr((dir_ / "nope").string()));
}

TEST(KubeconfigListTest, SplitsOnColonsAndDropsEmptyEntries) {
  EXPECT_EQ(splitKubeconfigList("a::b:"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(splitKubeconfigList("").empty());
}

// Each malformed kubeconfig must be rejected, naming the file and the field.
struct Malformed {
  const char* name;
  std::string text;
  const char* field;
  const char* context = "";
};

TEST_F(KubeconfigTest, MalformedVariantsNameTheField) {
  const std::string good_user = certUser();
  const std::vector<Malformed> cases = {
      {"not yaml", "clusters: [\n", "not valid YAML"},
      {"top level list", "- a\n- b\n", "top level must be a map"},
      {"wrong kind", "kind: Pod\n", "kind"},
      {"clusters not a list", "clusters: {a: b}\n", "clusters"},
      {"cluster without name", "clusters:\n- cluster: {server: https://h}\n", "clusters[0].name"},
      {"cluster without body", "clusters:\n- name: x\n", "clusters[0].cluster"},
      {"users not a list", "users: 3\n", "users"},
      {"context body is a string", "contexts:\n- name: c\n  context: nope\n", "contexts[0].context"},
      {"no current context", "clusters: []\n", "current-context"},
      {"current context unknown", "current-context: ghost\n", "current-context"},
      {"--context unknown", config(good_user), "--context", "ghost"},
      {"context names unknown cluster",
       "current-context: c\ncontexts:\n- name: c\n  context: {cluster: nowhere}\n",
       "contexts[0].context.cluster"},
      {"context without cluster", "current-context: c\ncontexts:\n- name: c\n  context: {user: u}\n",
       "contexts[0].context.cluster"},
      {"context names unknown user",
       "current-context: c\nclusters:\n- name: k\n  cluster: {server: https://h:1}\n"
       "contexts:\n- name: c\n  context: {cluster: k, user: ghost}\n",
       "contexts[0].context.user"},
      {"server missing",
       "current-context: c\nclusters:\n- name: k\n  cluster: {insecure-skip-tls-verify: true}\n"
       "contexts:\n- name: c\n  context: {cluster: k}\n",
       "clusters[0].cluster.server"},
      {"server not a URL",
       "current-context: c\nclusters:\n- name: k\n  cluster: {server: 'h:1'}\n"
       "contexts:\n- name: c\n  context: {cluster: k}\n",
       "clusters[0].cluster.server"},
      {"server without host",
       "current-context: c\nclusters:\n- name: k\n  cluster: {server: 'https://:6443'}\n"
       "contexts:\n- name: c\n  context: {cluster: k}\n",
       "clusters[0].cluster.server"},
      {"server is a map",
       "current-context: c\nclusters:\n- name: k\n  cluster: {server: {a: b}}\n"
       "contexts:\n- name: c\n  context: {cluster: k}\n",
       "clusters[0].cluster.server"},
      {"CA data not base64",
       "current-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://h:1\n"
       "    certificate-authority-data: '!!!!'\ncontexts:\n- name: c\n  context: {cluster: k}\n",
       "clusters[0].cluster.certificate-authority-data"},
      {"CA data not a certificate",
       "current-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://h:1\n"
       "    certificate-authority-data: " + base64Encode("hello") + "\n"
       "contexts:\n- name: c\n  context: {cluster: k}\n",
       "clusters[0].cluster.certificate-authority-data"},
      {"CA file missing",
       "current-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://h:1\n"
       "    certificate-authority: /no/such/ca.crt\ncontexts:\n- name: c\n  context: {cluster: k}\n",
       "clusters[0].cluster.certificate-authority"},
      {"insecure with CA", config(good_user, "    insecure-skip-tls-verify: true\n"),
       "clusters[0].cluster.insecure-skip-tls-verify"},
      {"insecure not a bool", config(good_user, "    insecure-skip-tls-verify: maybe\n"),
       "clusters[0].cluster.insecure-skip-tls-verify"},
      {"proxy url", config(good_user, "    proxy-url: http://proxy:3128\n"), "clusters[0].cluster.proxy-url"},
      {"certificate without key",
       config("    client-certificate-data: " + base64Encode(client_->cert_pem) + "\n"),
       "users[0].user.client-key-data"},
      {"key without certificate", config("    client-key-data: " + base64Encode(client_->key_pem) + "\n"),
       "users[0].user.client-certificate-data"},
      {"key data not base64",
       config("    client-certificate-data: " + base64Encode(client_->cert_pem) +
              "\n    client-key-data: '%%%'\n"),
       "users[0].user.client-key-data"},
      {"key data not a key",
       config("    client-certificate-data: " + base64Encode(client_->cert_pem) +
              "\n    client-key-data: " + base64Encode(client_->cert_pem) + "\n"),
       "users[0].user.client-key-data"},
      {"client certificate file missing",
       config("    client-certificate: missing.crt\n    client-key: missing.key\n"),
       "users[0].user.client-certificate"},
      {"token file missing", config("    tokenFile: /no/such/token\n"), "users[0].user.tokenFile"},
      {"token is a list", config("    token: [a, b]\n"), "users[0].user.token"},
      {"basic auth", config("    username: admin\n    password: secret\n"), "users[0].user.username"},
      {"auth-provider", config("    auth-provider: {name: gcp}\n"), "users[0].user.auth-provider"},
      {"exec without command",
       config("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"),
       "users[0].user.exec.command"},
      {"exec bad apiVersion", config("    exec:\n      apiVersion: v9\n      command: x\n"),
       "users[0].user.exec.apiVersion"},
      {"exec args not a list",
       config("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: x\n"
              "      args: --flag\n"),
       "users[0].user.exec.args"},
      {"exec env entry without value",
       config("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: x\n"
              "      env:\n      - name: A\n"),
       "users[0].user.exec.env[0]"},
  };
  ASSERT_GE(cases.size(), 20u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    expectRejected(c.text, c.field, c.context);
  }
}

TEST_F(KubeconfigTest, InClusterReadsTheMountedServiceAccount) {
  write("token", "sa-token\n");
  write("ca.crt", ca_->cert_pem);
  write("namespace", "warren-system");
  ::setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  InClusterPaths paths{(dir_ / "token").string(), (dir_ / "ca.crt").string(),
                       (dir_ / "namespace").string()};
  auto result = loadInCluster(paths);
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->server, "https://10.96.0.1:443");
  EXPECT_EQ(result->auth.token_file, paths.token_file);
  EXPECT_EQ(result->default_namespace, "warren-system");
}

TEST_F(KubeconfigTest, InClusterWithoutEnvironmentIsAnError) {
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  auto result = loadInCluster({});
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message, HasSubstr("KUBERNETES_SERVICE_HOST"));
}

}  // namespace
}  // namespace warren::kube
