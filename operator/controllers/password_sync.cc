#include "controllers/password_sync.h"

#include <nlohmann/json.hpp>

#include "kube/http.h"

namespace warren::controllers {
namespace {

using json = nlohmann::json;

Error refused(const std::string& what, const offload::HttpAnswer& answer) {
  return Error::local("BrokerRefused", what + ": HTTP " + std::to_string(answer.status));
}

}  // namespace

Result<PasswordChange> applyPassword(const ManagementFactory& connect, const std::string& url, const Credentials& applied,
                                     const Credentials& wanted) {
  if (applied.username != wanted.username) {
    return Error::local("UsernameChanged", "the default user's username changed from " + applied.username + " to " +
                                               wanted.username + "; warren rotates passwords only: put the username back");
  }
  const offload::HttpCall whoami{"GET", "/api/whoami", ""};
  auto as_wanted = connect({url, wanted.username, wanted.password});
  auto accepted = as_wanted->send(whoami);
  if (!accepted) return accepted.error();
  if (accepted->status == 200) return PasswordChange::kAlreadyInEffect;
  if (accepted->status != 401) return refused("GET /api/whoami", *accepted);

  auto as_applied = connect({url, applied.username, applied.password});
  const std::string user_path = "/api/users/" + kube::percentEncode(wanted.username);
  auto user = as_applied->send({"GET", user_path, ""});
  if (!user) return user.error();
  if (user->status == 401) {
    return Error::local("BrokersRejectCredentials",
                        "the brokers accept neither the Secret's password nor the one warren last applied for user " +
                            wanted.username + " (was it changed by hand?); set the Secret to the password the brokers have");
  }
  if (user->status != 200) return refused("GET " + user_path, *user);
  std::string tags = "administrator";
  try {
    const json body = json::parse(user->body);
    if (body.contains("tags")) {
      const json& t = body["tags"];
      if (t.is_string()) {
        tags = t.get<std::string>();
      } else if (t.is_array()) {
        tags.clear();
        for (const auto& tag : t) tags += (tags.empty() ? "" : ",") + tag.get<std::string>();
      }
    }
  } catch (const json::exception&) {
    // Keep the default user an administrator, as it was created.
  }
  const json change = {{"password", wanted.password}, {"tags", tags}};
  auto changed = as_applied->send({"PUT", user_path, change.dump()});
  if (!changed) return changed.error();
  if (changed->status < 200 || changed->status >= 300) return refused("PUT " + user_path, *changed);
  auto confirmed = as_wanted->send(whoami);
  if (!confirmed) return confirmed.error();
  if (confirmed->status != 200) return refused("GET /api/whoami with the new password", *confirmed);
  return PasswordChange::kChanged;
}

}  // namespace warren::controllers
