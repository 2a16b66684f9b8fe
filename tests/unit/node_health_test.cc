#include "failover/node_health.h"

#include <gtest/gtest.h>

namespace warren::failover {
namespace {

using namespace std::chrono_literals;

const Clock::time_point kNow = Clock::from_time_t(2000000000);

NodeObservation readyPod(int ordinal) { return {ordinal, true, true, kNow - 1h, false, false, false}; }
NodeObservation notReadyFor(int ordinal, std::chrono::seconds how_long) {
  return {ordinal, true, false, kNow - how_long, false, false, false};
}

TEST(NodeHealthTest, DebounceKeepsABrieflyNotReadyNodeHealthy) {
  const auto brief = assessNode(notReadyFor(0, 3s), 5s, kNow);
  EXPECT_TRUE(brief.healthy);
  EXPECT_FALSE(brief.ready);
  EXPECT_EQ(brief.reason, "NotReadyWithinDebounce");
  ASSERT_TRUE(brief.recheck_at.has_value());
  EXPECT_EQ(*brief.recheck_at, kNow + 2s);
  const auto long_down = assessNode(notReadyFor(0, 6s), 5s, kNow);
  EXPECT_FALSE(long_down.healthy);
  EXPECT_EQ(long_down.reason, "PodNotReady");
}

TEST(NodeHealthTest, FailedTerminatingGoneOrHostDownAreUnhealthyAtOnce) {
  NodeObservation failed = readyPod(0);
  failed.pod_failed = true;
  EXPECT_EQ(assessNode(failed, 5s, kNow).reason, "PodFailed");
  NodeObservation terminating = readyPod(0);
  terminating.pod_terminating = true;
  EXPECT_EQ(assessNode(terminating, 5s, kNow).reason, "PodTerminating");
  NodeObservation missing;
  missing.ordinal = 0;
  EXPECT_EQ(assessNode(missing, 5s, kNow).reason, "PodMissing");
  NodeObservation host = readyPod(0);
  host.host_not_ready = true;
  const auto on_dead_host = assessNode(host, 5s, kNow);
  EXPECT_FALSE(on_dead_host.healthy);
  EXPECT_EQ(on_dead_host.reason, "HostNotReady");
}

std::vector<NodeHealth> assess(const std::vector<NodeObservation>& nodes) {
  std::vector<NodeHealth> out;
  for (const auto& n : nodes) out.push_back(assessNode(n, 5s, kNow));
  return out;
}

TEST(ActiveNodeTest, FirstChoiceIsTheLowestReadyOrdinal) {
  const auto decision = chooseActiveNode(std::nullopt, assess({notReadyFor(0, 1s), readyPod(1), readyPod(2)}),
                                         FailoverPolicy::kAutomatic);
  EXPECT_EQ(decision.active, 1);  // node 0 is within its debounce but not Ready: not chosen anew
  EXPECT_FALSE(decision.moved);
}

TEST(ActiveNodeTest, StickyWhileHealthyEvenIfALowerOrdinalIsReady) {
  const auto decision = chooseActiveNode(2, assess({readyPod(0), readyPod(1), readyPod(2)}), FailoverPolicy::kAutomatic);
  EXPECT_EQ(decision.active, 2);
  EXPECT_FALSE(decision.moved);
}

TEST(ActiveNodeTest, FlappingWithinTheDebounceDoesNotMove) {
  const auto decision = chooseActiveNode(0, assess({notReadyFor(0, 4s), readyPod(1)}), FailoverPolicy::kAutomatic);
  EXPECT_EQ(decision.active, 0);
  EXPECT_FALSE(decision.moved);
}

TEST(ActiveNodeTest, MovesToTheLowestReadyWhenTheActiveIsUnhealthy) {
  const auto decision =
      chooseActiveNode(0, assess({notReadyFor(0, 10s), notReadyFor(1, 1s), readyPod(2)}), FailoverPolicy::kAutomatic);
  EXPECT_EQ(decision.active, 2);  // 1 is healthy but not Ready
  EXPECT_TRUE(decision.moved);
  EXPECT_EQ(decision.reason, "PodNotReady");
}

TEST(ActiveNodeTest, RecoveryDoesNotMoveBack) {
  auto decision = chooseActiveNode(0, assess({notReadyFor(0, 10s), readyPod(1)}), FailoverPolicy::kAutomatic);
  ASSERT_EQ(decision.active, 1);
  decision = chooseActiveNode(decision.active, assess({readyPod(0), readyPod(1)}), FailoverPolicy::kAutomatic);
  EXPECT_EQ(decision.active, 1);
  EXPECT_FALSE(decision.moved);
}

TEST(ActiveNodeTest, AllDownLeavesTheActiveNodeAndSaysSo) {
  const auto decision = chooseActiveNode(1, assess({notReadyFor(0, 10s), notReadyFor(1, 10s)}), FailoverPolicy::kAutomatic);
  EXPECT_EQ(decision.active, 1);
  EXPECT_FALSE(decision.moved);
  EXPECT_TRUE(decision.no_healthy_node);
  // As soon as a node recovers, it is used.
  const auto recovered = chooseActiveNode(1, assess({readyPod(0), notReadyFor(1, 10s)}), FailoverPolicy::kAutomatic);
  EXPECT_EQ(recovered.active, 0);
  EXPECT_TRUE(recovered.moved);
  EXPECT_FALSE(recovered.no_healthy_node);
}

TEST(ActiveNodeTest, ScalingDownAwayTheActiveNodeMovesIt) {
  // The active node's ordinal is no longer among the desired replicas.
  const auto decision = chooseActiveNode(3, assess({readyPod(0), readyPod(1), readyPod(2)}), FailoverPolicy::kAutomatic);
  EXPECT_EQ(decision.active, 0);
  EXPECT_TRUE(decision.moved);
  EXPECT_EQ(decision.reason, "NodeRemoved");
}

TEST(ActiveNodeTest, ManualPolicyNeverMovesAnExistingChoice) {
  const auto decision = chooseActiveNode(0, assess({notReadyFor(0, 60s), readyPod(1)}), FailoverPolicy::kManual);
  EXPECT_EQ(decision.active, 0);
  EXPECT_FALSE(decision.moved);
  EXPECT_EQ(chooseActiveNode(std::nullopt, assess({readyPod(0)}), FailoverPolicy::kManual).active, 0);
}

}  // namespace
}  // namespace warren::failover
