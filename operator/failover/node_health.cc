#include "failover/node_health.h"

namespace warren::failover {

NodeHealth assessNode(const NodeObservation& node, std::chrono::seconds debounce, Clock::time_point now) {
  NodeHealth health;
  health.ordinal = node.ordinal;
  if (!node.pod_exists) {
    health.reason = "PodMissing";
    return health;
  }
  if (node.pod_failed) {
    health.reason = "PodFailed";
    return health;
  }
  if (node.pod_terminating) {
    health.reason = "PodTerminating";
    return health;
  }
  if (node.host_not_ready) {
    health.reason = "HostNotReady";
    return health;
  }
  if (node.pod_ready) {
    health.ready = true;
    health.healthy = true;
    health.reason = "Ready";
    return health;
  }
  // Not Ready: healthy only while inside the debounce window.
  const Clock::time_point since = node.ready_changed_at.value_or(now);
  if (now - since < debounce) {
    health.healthy = true;
    health.reason = "NotReadyWithinDebounce";
    health.recheck_at = since + debounce;
    return health;
  }
  health.reason = "PodNotReady";
  return health;
}

ActiveNodeDecision chooseActiveNode(std::optional<int> current, const std::vector<NodeHealth>& nodes,
                                    FailoverPolicy policy) {
  ActiveNodeDecision decision;
  const NodeHealth* current_health = nullptr;
  for (const auto& node : nodes) {
    if (current && node.ordinal == *current) current_health = &node;
  }
  const NodeHealth* lowest_ready = nullptr;
  bool any_healthy = false;
  for (const auto& node : nodes) {
    any_healthy = any_healthy || node.healthy;
    if (node.ready && (lowest_ready == nullptr || node.ordinal < lowest_ready->ordinal)) lowest_ready = &node;
  }
  decision.no_healthy_node = !any_healthy;
  // Sticky while healthy.
  if (current_health != nullptr && current_health->healthy) {
    decision.active = current;
    return decision;
  }
  // Manual: only ever choose when there is no active node yet.
  if (policy == FailoverPolicy::kManual && current) {
    decision.active = current;
    return decision;
  }
  if (lowest_ready == nullptr) {
    decision.active = current;  // never point clients at a dead node: leave it as it is
    return decision;
  }
  decision.active = lowest_ready->ordinal;
  if (current && *current != lowest_ready->ordinal) {
    decision.moved = true;
    decision.reason = current_health != nullptr ? current_health->reason : "NodeRemoved";
  }
  return decision;
}

}  // namespace warren::failover
