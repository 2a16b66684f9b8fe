// Bearer-token sources: a static token, a token file re-read every minute
// and after a 401 (projected service-account tokens rotate), and a client-go
// exec credential plugin run again when its token expires or is rejected.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/result.h"
#include "kube/client_config.h"

namespace warren::kube {

class TokenSource {
 public:
  virtual ~TokenSource() = default;
  // The token to send; empty when there is none.
  virtual Result<std::string> token() = 0;
  // The server answered 401: the next token() must fetch afresh.
  virtual void invalidate() = 0;
};

using Clock = std::function<std::chrono::steady_clock::time_point()>;

// A token read from a file, cached for `refresh` (one minute, as client-go).
class FileTokenSource : public TokenSource {
 public:
  explicit FileTokenSource(std::string path, std::chrono::seconds refresh = std::chrono::seconds(60),
                           Clock clock = std::chrono::steady_clock::now);
  Result<std::string> token() override;
  void invalidate() override;

 private:
  const std::string path_;
  const std::chrono::seconds refresh_;
  const Clock clock_;
  std::mutex mutex_;
  std::string cached_;
  std::chrono::steady_clock::time_point read_at_{};
  bool valid_ = false;
};

// Runs an exec plugin and caches its token until status.expirationTimestamp.
class ExecTokenSource : public TokenSource {
 public:
  explicit ExecTokenSource(ExecConfig config);
  Result<std::string> token() override;
  void invalidate() override;

 private:
  const ExecConfig config_;
  std::mutex mutex_;
  std::string cached_;
  std::chrono::system_clock::time_point expires_at_{};
  bool valid_ = false;
};

// Parses an ExecCredential's stdout into token and expiry (exposed for tests).
struct ExecCredential {
  std::string token;
  std::optional<std::chrono::system_clock::time_point> expires_at;
};
Result<ExecCredential> parseExecCredential(const std::string& output);

// The source that `auth` describes, or nullptr for no bearer token.
std::shared_ptr<TokenSource> makeTokenSource(const AuthConfig& auth);

// Runs a program with extra environment, returns its stdout (bounded).
Result<std::string> runProgram(const std::string& command, const std::vector<std::string>& args,
                               const std::vector<std::pair<std::string, std::string>>& env,
                               const std::string& working_dir, std::chrono::seconds timeout);

// "2026-11-23T10:00:00Z" (also with fractional seconds or an offset).
std::optional<std::chrono::system_clock::time_point> parseRfc3339(const std::string& text);

}  // namespace warren::kube
