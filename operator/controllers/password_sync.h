// Password rotation: makes the running brokers accept the password in a
// BrokerCluster's default-user Secret. RabbitMQ reads the default user only
// on a node's first boot, so editing the Secret alone changes nothing on the
// brokers; warren applies the change through the management API (an HTTP
// call from the operator needs no exec rights into the pods and works the
// same for every node, since users are cluster-wide), authenticated with the
// credentials it last applied, which it keeps in a Secret of its own
// ("<cluster>-default-user-applied"). The calls are built and checked here;
// the reconciler decides when to make them and reports PasswordSynced.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "offload/broker_management.h"

namespace warren::controllers {

struct Credentials {
  std::string username;
  std::string password;
  bool operator==(const Credentials&) const = default;
};

// Opens a management API connection (curlManagementTransport in production,
// from the module backend_clients.h loads).
using ManagementFactory = std::function<std::unique_ptr<offload::ManagementTransport>(const offload::ManagementAccess&)>;

enum class PasswordChange {
  kAlreadyInEffect,  // the brokers accept `wanted` already
  kChanged,          // changed from `applied` to `wanted`, and `wanted` now accepted
};

// Makes the brokers at `url` accept `wanted` for `wanted.username`, logging in
// with `applied` (the last credentials warren applied). The user keeps its
// tags. Errors: "UsernameChanged" (renaming the default user is not
// supported: the old user would stay an administrator), "BrokerUnreachable",
// "BrokersRejectCredentials" (neither password is accepted: changed by hand?),
// "BrokerRefused".
Result<PasswordChange> applyPassword(const ManagementFactory& connect, const std::string& url, const Credentials& applied,
                                     const Credentials& wanted);

}  // namespace warren::controllers
