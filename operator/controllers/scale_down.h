// Safe scale-down of a BrokerCluster. Before the StatefulSet loses nodes,
// every quorum queue's members move off them through the management API
// (shrink on each departing node, grow on each remaining one); warren lowers
// the StatefulSet only once no quorum queue has a member left on a departing
// node, so no queue is ever left without its majority. Once the departed
// pods are gone, the cluster still lists them as stopped members; a Job
// (builders::buildForgetNodesJob) makes it forget them, and
// listedDepartedNodes() tells the controller when that is done.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "controllers/password_sync.h"

namespace warren::controllers {

struct ScaleDownCheck {
  bool ready = false;        // no quorum queue has a member on a departing node
  std::string waiting_for;   // otherwise the first such queue and node, in words
};

// Moves quorum-queue members off `departing` onto `remaining` (idempotent:
// repeated until ready) and says whether the nodes may go. Errors:
// "BrokerUnreachable", "BrokerRefused" (with the HTTP status).
Result<ScaleDownCheck> prepareScaleDown(const ManagementFactory& connect, const std::string& url,
                                        const Credentials& credentials, const std::vector<std::string>& departing,
                                        const std::vector<std::string>& remaining);

struct DepartedNodes {
  std::vector<std::string> stopped;  // still cluster members, not running: to be forgotten
  std::vector<std::string> running;  // still running (their pods are stopping): not yet
};

// Which of `departed` the cluster at `url` still lists as members (GET
// /api/nodes lists every member, running or not). Errors: "BrokerUnreachable",
// "BrokerRefused".
Result<DepartedNodes> listedDepartedNodes(const ManagementFactory& connect, const std::string& url,
                                          const Credentials& credentials, const std::vector<std::string>& departed);

}  // namespace warren::controllers
