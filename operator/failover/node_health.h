// Broker node health and the choice of the active node, as pure functions of
// what the informers observed (pods and their Nodes) and the time, so every
// rule is unit-tested without a cluster.
//
// A node is unhealthy when its pod has not been Ready for longer than the
// debounce, has failed, is terminating or is gone, or its Node is not Ready.
// The active node is sticky: it stays while healthy; when it becomes
// unhealthy the lowest-ordinal Ready node takes over, and it never moves
// back by itself. With no healthy node nothing moves.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace warren::failover {

using Clock = std::chrono::system_clock;

struct NodeObservation {
  int ordinal = 0;
  bool pod_exists = false;
  bool pod_ready = false;
  // When the pod's Ready condition last changed (its lastTransitionTime).
  std::optional<Clock::time_point> ready_changed_at;
  bool pod_failed = false;
  bool pod_terminating = false;
  bool host_not_ready = false;  // the Kubernetes Node running the pod
};

struct NodeHealth {
  int ordinal = 0;
  bool ready = false;    // Ready right now
  bool healthy = false;  // Ready, or not Ready for less than the debounce
  std::string reason;    // why not healthy (or "Ready" / "NotReadyWithinDebounce")
  // When a node in its debounce window turns unhealthy if nothing changes.
  std::optional<Clock::time_point> recheck_at;
};

NodeHealth assessNode(const NodeObservation& node, std::chrono::seconds debounce, Clock::time_point now);

enum class FailoverPolicy { kAutomatic, kManual };

struct ActiveNodeDecision {
  std::optional<int> active;  // the active node after the decision
  bool moved = false;         // a previous active node was replaced
  bool no_healthy_node = false;
  std::string reason;         // why it moved (the old node's reason)
};

// `current` is the active node before (none at first). `nodes` holds every
// ordinal below the desired replica count.
ActiveNodeDecision chooseActiveNode(std::optional<int> current, const std::vector<NodeHealth>& nodes,
                                    FailoverPolicy policy);

}  // namespace warren::failover
