#include "kube/token_source.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <ctime>

#include <nlohmann/json.hpp>

#include "kube/tls_material.h"

extern char** environ;

namespace warren::kube {
namespace {

class StaticTokenSource : public TokenSource {
 public:
  explicit StaticTokenSource(std::string token) : token_(std::move(token)) {}
  Result<std::string> token() override { return token_; }
  void invalidate() override {}

 private:
  const std::string token_;
};

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

}  // namespace

FileTokenSource::FileTokenSource(std::string path, std::chrono::seconds refresh, Clock clock)
    : path_(std::move(path)), refresh_(refresh), clock_(std::move(clock)) {}

Result<std::string> FileTokenSource::token() {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto now = clock_();
  if (valid_ && now - read_at_ < refresh_) return cached_;
  auto contents = readFile(path_);
  if (!contents) {
    if (valid_) return cached_;  // keep the last good token over a transient read error
    return Error::local("TokenUnavailable", "cannot read token file " + path_);
  }
  cached_ = trimmed(std::move(*contents));
  read_at_ = now;
  valid_ = true;
  return cached_;
}

void FileTokenSource::invalidate() {
  std::lock_guard<std::mutex> lock(mutex_);
  read_at_ = {};
  valid_ = false;
}

std::optional<std::chrono::system_clock::time_point> parseRfc3339(const std::string& text) {
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return std::nullopt;
  // Fractional seconds (MicroTime has six digits) are kept to the nanosecond.
  long long fraction_ns = 0;
  if (*rest == '.') {
    ++rest;
    long long scale = 100000000;
    while (*rest >= '0' && *rest <= '9') {
      fraction_ns += (*rest - '0') * scale;
      scale /= 10;
      ++rest;
    }
  }
  long offset_seconds = 0;
  if (*rest == 'Z' || *rest == 'z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    int hours = 0, minutes = 0;
    if (std::sscanf(rest + 1, "%2d:%2d", &hours, &minutes) != 2) return std::nullopt;
    offset_seconds = (hours * 3600L + minutes * 60L) * (*rest == '+' ? 1 : -1);
    rest += 6;
  } else {
    return std::nullopt;
  }
  if (*rest != '\0') return std::nullopt;
  const time_t utc = timegm(&tm) - offset_seconds;
  return std::chrono::system_clock::from_time_t(utc) +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(fraction_ns));
}

Result<ExecCredential> parseExecCredential(const std::string& output) {
  const auto json = nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || json.value("kind", "") != "ExecCredential") {
    return Error::local("InvalidExecCredential", "exec plugin output is not an ExecCredential");
  }
  const auto status = json.find("status");
  if (status == json.end() || !status->is_object()) {
    return Error::local("InvalidExecCredential", "exec plugin output has no status");
  }
  ExecCredential credential;
  if (auto token = status->find("token"); token != status->end() && token->is_string()) {
    credential.token = token->get<std::string>();
  }
  if (credential.token.empty()) {
    return Error::local("InvalidExecCredential",
                        "exec plugin returned no status.token (client certificates from exec "
                        "plugins are not supported)");
  }
  if (auto expiry = status->find("expirationTimestamp");
      expiry != status->end() && expiry->is_string()) {
    credential.expires_at = parseRfc3339(expiry->get<std::string>());
    if (!credential.expires_at) {
      return Error::local("InvalidExecCredential", "exec plugin status.expirationTimestamp is not RFC 3339");
    }
  }
  return credential;
}

Result<std::string> runProgram(const std::string& command, const std::vector<std::string>& args,
                               const std::vector<std::pair<std::string, std::string>>& env,
                               const std::string& working_dir, std::chrono::seconds timeout) {
  int out_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    return Error::local("ExecFailed", std::string("pipe: ") + std::strerror(errno));
  }
  // Build argv and envp before fork: only async-signal-safe calls after it.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings{command};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  // A relative command with a slash resolves against the kubeconfig's folder.
  std::string program = command;
  if (command.find('/') != std::string::npos && command.front() != '/') {
    program = working_dir + "/" + command;
  }

  const pid_t pid = fork();
  if (pid < 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return Error::local("ExecFailed", std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    if (program.find('/') != std::string::npos) {
      execve(program.c_str(), argv.data(), envp.data());
    } else {
      execvpe(program.c_str(), argv.data(), envp.data());
    }
    _exit(127);
  }
  close(out_pipe[1]);
  std::string output;
  constexpr size_t kMaxOutput = 1 << 20;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) { timed_out = true; break; }
    pollfd pfd{out_pipe[0], POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) { timed_out = ready == 0; break; }
    char buf[4096];
    const ssize_t n = read(out_pipe[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (output.size() < kMaxOutput) output.append(buf, static_cast<size_t>(n));
  }
  close(out_pipe[0]);
  if (timed_out) kill(pid, SIGKILL);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return Error::local("ExecFailed", command + " did not finish within " +
                                          std::to_string(timeout.count()) + " s");
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    const int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    return Error::local("ExecFailed", command + " exited with status " + std::to_string(code) +
                                          (code == 127 ? " (command not found)" : ""));
  }
  return output;
}

ExecTokenSource::ExecTokenSource(ExecConfig config) : config_(std::move(config)) {}

Result<std::string> ExecTokenSource::token() {
  std::lock_guard<std::mutex> lock(mutex_);
  // Refresh a little before expiry so a request never carries a dead token.
  constexpr auto kSkew = std::chrono::seconds(10);
  if (valid_ && (expires_at_ == std::chrono::system_clock::time_point{} ||
                 std::chrono::system_clock::now() + kSkew < expires_at_)) {
    return cached_;
  }
  const nlohmann::json info = {{"apiVersion", config_.api_version},
                               {"kind", "ExecCredential"},
                               {"spec", {{"interactive", false}}}};
  auto env = config_.env;
  env.emplace_back("KUBERNETES_EXEC_INFO", info.dump());
  auto output = runProgram(config_.command, config_.args, env, config_.working_dir,
                           std::chrono::seconds(30));
  if (!output) return Error::local("TokenUnavailable", "exec plugin: " + output.error().message);
  auto credential = parseExecCredential(*output);
  if (!credential) return Error::local("TokenUnavailable", credential.error().message);
  cached_ = std::move(credential->token);
  expires_at_ = credential->expires_at.value_or(std::chrono::system_clock::time_point{});
  valid_ = true;
  return cached_;
}

void ExecTokenSource::invalidate() {
  std::lock_guard<std::mutex> lock(mutex_);
  valid_ = false;
}

std::shared_ptr<TokenSource> makeTokenSource(const AuthConfig& auth) {
  if (auth.exec) return std::make_shared<ExecTokenSource>(*auth.exec);
  if (!auth.token_file.empty()) return std::make_shared<FileTokenSource>(auth.token_file);
  if (!auth.token.empty()) return std::make_shared<StaticTokenSource>(auth.token);
  return nullptr;
}

}  // namespace warren::kube
