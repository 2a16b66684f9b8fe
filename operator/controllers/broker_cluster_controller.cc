#include "controllers/broker_cluster_controller.h"

#include <openssl/rand.h>

#include <algorithm>

#include "builders/broker_cluster_children.h"
#include "common/log.h"
#include "common/text.h"
#include "controllers/backend_clients.h"
#include "controllers/scale_down.h"
#include "failover/node_health.h"
#include "kube/tls_material.h"
#include "kube/token_source.h"
#include "runtime/metrics.h"
#include "runtime/object_helpers.h"
#include "runtime/status_draft.h"

namespace warren::controllers {
namespace {

// Whether losing one more node would cost quorum queues their majority
// (RabbitMQ 4 has no classic mirroring: quorum queues are the replicated kind).
runtime::Condition quorumAtRisk(int replicas, int ready) {
  const int majority = replicas / 2 + 1;
  const std::string counts = std::to_string(ready) + " of " + std::to_string(replicas) + " nodes ready";
  if (replicas < 3) {
    return {"QuorumAtRisk", "True", "TooFewReplicas",
            std::to_string(replicas) + (replicas == 1 ? " node" : " nodes") +
                ": a quorum queue stops accepting when one node is lost (no majority left); classic and "
                "exclusive queues (what seed 000's MQTT and AMQP programs use) keep working on the survivor. "
                "Use 3 replicas or more for quorum queues."};
  }
  if (ready <= majority) {
    return {"QuorumAtRisk", "True", "NodesDown",
            counts + ": losing one more node leaves quorum queues without a majority of " + std::to_string(majority)};
  }
  return {"QuorumAtRisk", "False", "MajoritySurvivesOneLoss", counts + ": quorum queues keep a majority if one node is lost"};
}

using json = nlohmann::json;
using runtime::Condition;

constexpr size_t kCookieLength = 44;
// Pods informer index: "<namespace>/<cluster>" from the cluster label.
constexpr const char* kClusterPodsIndex = "cluster";
constexpr size_t kMinCookieLength = 20;

int ordinalOf(const std::string& pod_name) {
  const auto dash = pod_name.rfind('-');
  if (dash == std::string::npos) return -1;
  try {
    return std::stoi(pod_name.substr(dash + 1));
  } catch (...) {
    return -1;
  }
}

const json* podReadyCondition(const json& pod) {
  static const json kNone = json::array();
  const json::json_pointer path("/status/conditions");
  return runtime::findCondition(pod.contains(path) ? pod.at(path) : kNone, "Ready");
}

std::string labelSelector(const std::map<std::string, std::string>& labels) {
  std::string out;
  for (const auto& [k, v] : labels) out += (out.empty() ? "" : ",") + k + "=" + v;
  return out;
}

}  // namespace

std::string randomAlphanumeric(size_t length) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  while (out.size() < length) {
    unsigned char bytes[64];
    if (RAND_bytes(bytes, sizeof bytes) != 1) continue;
    for (unsigned char b : bytes) {
      // Rejection sampling keeps the distribution uniform (62 * 4 = 248).
      if (b < 248 && out.size() < length) out.push_back(alphabet[b % 62]);
    }
  }
  return out;
}

constexpr std::chrono::milliseconds kPasswordRetry{15000};
constexpr std::chrono::milliseconds kScaleDownRecheck{5000};
// A forget Job that failed is looked at again after this (deleting it by hand retries).
constexpr std::chrono::milliseconds kForgetRetry{60000};

// What one reconcile found; turned into conditions.
struct BrokerClusterReconciler::Outcome {
  bool degraded = false;
  std::string degraded_reason = "AsExpected";
  std::string degraded_message;
  bool reconcile_ok = true;
  std::string reconcile_reason = "Success";
  std::string reconcile_message = "all children are as specified";
  bool stop = false;  // a condition that must not be applied past
  std::optional<Error> retry;  // a failure to retry with backoff once status is written
  std::optional<runtime::Condition> password;  // PasswordSynced, when the default user was checked
  bool password_pending = false;               // not applied yet: check again soon
  std::optional<Credentials> in_effect;        // the credentials the brokers accept, when known
  bool scale_down_pending = false;             // quorum-queue members still moving off departing nodes,
                                               // or departed nodes still to be forgotten
  std::optional<std::vector<std::string>> departed_nodes;  // a new status.departedNodes
  std::chrono::milliseconds forget_retry{0};   // a failed forget Job: look again after this

  void degrade(std::string reason, std::string message) {
    degraded = true;
    degraded_reason = std::move(reason);
    degraded_message = std::move(message);
  }
  void fail(std::string reason, std::string message) {
    reconcile_ok = false;
    reconcile_reason = std::move(reason);
    reconcile_message = std::move(message);
  }
};

namespace {

// Stands in for a connection when the module with the real one cannot be opened.
class UnavailableTransport : public offload::ManagementTransport {
 public:
  explicit UnavailableTransport(Error why) : why_(std::move(why)) {}
  Result<offload::HttpAnswer> send(const offload::HttpCall&) override { return why_; }

 private:
  Error why_;
};

}  // namespace

ManagementFactory defaultManagementFactory() {
  return [](const offload::ManagementAccess& access) -> std::unique_ptr<offload::ManagementTransport> {
    auto clients = loadBackendClients();
    if (!clients) return std::make_unique<UnavailableTransport>(clients.error());
    return (*clients)->management(access);
  };
}

BrokerClusterReconciler::BrokerClusterReconciler(std::shared_ptr<kube::ObjectClient> client, Informers informers,
                                                 std::shared_ptr<runtime::EventRecorder> events,
                                                 RandomSource random, std::chrono::milliseconds secret_recheck,
                                                 ManagementFactory management)
    : client_(std::move(client)), informers_(std::move(informers)), events_(std::move(events)),
      random_(std::move(random)), secret_recheck_(secret_recheck), management_(std::move(management)),
      secret_reads_(informers_.secrets) {}

Status BrokerClusterReconciler::syncPassword(const api::BrokerCluster& cluster, const json& user, size_t members,
                                             Outcome& outcome) {
  const Credentials wanted{runtime::secretValue(user, "username"), runtime::secretValue(user, "password")};
  const auto& secrets = kube::resources::secrets();
  const std::string record_name = builders::appliedCredentialsSecretName(cluster);
  auto synced = [&](const std::string& reason, const std::string& message) {
    outcome.password = runtime::Condition{"PasswordSynced", "True", reason, message};
    outcome.in_effect = wanted;
  };
  auto fresh_record = [&] { return builders::buildAppliedCredentialsSecret(cluster, wanted.username, wanted.password); };
  bool record_created = false;
  auto record = secret_reads_.getOrCreate(*client_, cluster.ns, record_name, fresh_record, record_created);
  if (!record && !record.error().isNotFound()) return record.error();
  if (!record) {
    // First sight: the nodes booted (or will boot) with the Secret as it is now.
    auto created = client_->create(secrets, cluster.ns, fresh_record(), {});
    if (!created && !created.error().isAlreadyExists()) return created.error();
    if (created) secret_reads_.remember(*created);
    synced("InEffect", "the brokers use the default-user Secret's credentials");
    return okStatus();
  }
  if (clusterLabelOf(*record) != cluster.name) {
    outcome.password = runtime::Condition{"PasswordSynced", "False", "NotOwned",
                                          "Secret \"" + record_name + "\" is not warren's; a rotated password cannot be applied"};
    return okStatus();
  }
  const Credentials applied{runtime::secretValue(*record, "username"), runtime::secretValue(*record, "password")};
  if (applied == wanted) {
    synced("InEffect", "the brokers use the default-user Secret's credentials");
    return okStatus();
  }
  if (members == 0) {
    outcome.password = runtime::Condition{"PasswordSynced", "False", "NoBrokerRunning",
                                          "the default-user Secret changed; it is applied once a node runs"};
    outcome.password_pending = true;
    return okStatus();
  }
  const std::string url = builders::managementUrl(cluster);
  auto change = applyPassword(management_, url, applied, wanted);
  if (!change) {
    outcome.password = runtime::Condition{"PasswordSynced", "False", change.error().reason, change.error().message};
    outcome.password_pending = change.error().reason != "UsernameChanged";
    return okStatus();
  }
  json updated = *record;
  updated["data"]["password"] = kube::base64Encode(wanted.password);
  auto written = client_->update(secrets, cluster.ns, updated, {});
  if (!written) return written.error();
  secret_reads_.remember(*written);
  if (*change == PasswordChange::kChanged) {
    events_->record(cluster.raw, "Normal", "PasswordRotated",
                    "the brokers now accept the new password of user " + wanted.username + " from Secret " +
                        cluster.defaultUserSecretName());
  }
  // The same condition as in steady state: the rotation itself is the Event.
  synced("InEffect", "the brokers use the default-user Secret's credentials");
  return okStatus();
}

bool BrokerClusterReconciler::holdForScaleDown(const api::BrokerCluster& cluster, int current, Outcome& outcome) {
  std::vector<std::string> departing;
  std::vector<std::string> remaining;
  for (int i = 0; i < current; ++i) (i < cluster.spec.replicas ? remaining : departing).push_back(cluster.nodeName(i));
  auto hold = [&](const std::string& message) {
    outcome.fail("ScaleDownInProgress", "keeping " + std::to_string(current) + " nodes until " + message);
    outcome.scale_down_pending = true;
    return true;
  };
  if (!outcome.in_effect) return hold("the brokers' credentials are known (see PasswordSynced)");
  const std::string url = builders::managementUrl(cluster);
  auto check = prepareScaleDown(management_, url, *outcome.in_effect, departing, remaining);
  if (!check) return hold("quorum-queue members can be moved off the departing nodes: " + check.error().describe());
  if (!check->ready) return hold(check->waiting_for);
  // Recorded before the StatefulSet shrinks, so that a restart in between still forgets them.
  std::vector<std::string> recorded = cluster.departedNodes();
  bool all_recorded = true;
  for (const auto& node : departing) {
    if (std::find(recorded.begin(), recorded.end(), node) == recorded.end()) {
      recorded.push_back(node);
      all_recorded = false;
    }
  }
  if (!all_recorded) {
    outcome.departed_nodes = recorded;
    return hold("the departing nodes are recorded in status.departedNodes");
  }
  events_->record(cluster.raw, "Normal", "ScaleDownPrepared",
                  "no quorum queue has a member on the " + std::to_string(departing.size()) +
                      " departing nodes any more; the StatefulSet goes to " + std::to_string(cluster.spec.replicas));
  return false;
}

Status BrokerClusterReconciler::forgetDepartedNodes(const api::BrokerCluster& cluster,
                                                    const std::vector<std::string>& departed, Outcome& outcome) {
  auto wait = [&](const std::string& message) {
    outcome.fail("ForgettingDepartedNodes", "the cluster still lists departed nodes; " + message);
    outcome.scale_down_pending = true;
    return okStatus();
  };
  // Forgetting a running node is refused, and a departing pod may still be handing over (preStop).
  std::vector<int> ready_members;
  for (const auto& pod : informers_.pods->store().byIndex(kClusterPodsIndex, runtime::objectKey(cluster.ns, cluster.name))) {
    const int ordinal = ordinalOf(pod->value("/metadata/name"_json_pointer, std::string()));
    if (ordinal < 0) continue;
    if (std::find(departed.begin(), departed.end(), cluster.nodeName(ordinal)) != departed.end()) {
      return wait("waiting for pod " + cluster.podName(ordinal) + " to stop");
    }
    const json* ready = podReadyCondition(*pod);
    if (ordinal < cluster.spec.replicas && ready != nullptr && ready->value("status", "") == "True") {
      ready_members.push_back(ordinal);
    }
  }
  if (!outcome.in_effect) return wait("waiting until the brokers' credentials are known (see PasswordSynced)");
  auto listed = listedDepartedNodes(management_, builders::managementUrl(cluster), *outcome.in_effect, departed);
  if (!listed) return wait("cannot ask the brokers which nodes they list: " + listed.error().describe());
  if (!listed->running.empty()) return wait(listed->running.front() + " still runs");

  const auto& jobs = kube::resources::jobs();
  const std::string job_name = builders::forgetNodesJobName(cluster);
  auto job = client_->get(jobs, cluster.ns, job_name);
  if (!job && !job.error().isNotFound()) return job.error();
  if (job && !runtime::isControlledBy(*job, cluster.uid)) {
    outcome.fail("NotOwned", runtime::notOwnedError(jobs, *job).message);
    return okStatus();
  }
  auto removeJob = [&]() -> Status {
    kube::DeleteOptions options;
    options.propagation = kube::PropagationPolicy::kBackground;  // its pod goes with it
    if (auto removed = client_->remove(jobs, cluster.ns, job_name, options); !removed && !removed.error().isNotFound()) {
      return removed.error();
    }
    return okStatus();
  };
  if (listed->stopped.empty()) {
    // Done: the Job (if any) has served its purpose.
    if (job) {
      if (auto removed = removeJob(); !removed) return removed;
    }
    outcome.departed_nodes = std::vector<std::string>{};
    events_->record(cluster.raw, "Normal", "DepartedNodesForgotten", "the cluster no longer lists " + joined(departed, ", "));
    return okStatus();
  }
  const std::string names = joined(listed->stopped, ", ");
  if (!job) {
    if (ready_members.empty()) return wait("no node is Ready to run forget_cluster_node " + names + " through");
    auto created = client_->create(jobs, cluster.ns,
                                   builders::buildForgetNodesJob(cluster, cluster.nodeName(ready_members.front()),
                                                                 listed->stopped),
                                   {});
    if (!created && !created.error().isAlreadyExists()) return created.error();
    events_->record(cluster.raw, "Normal", "ForgettingDepartedNodes",
                    "Job " + job_name + " runs rabbitmqctl forget_cluster_node for " + names);
    return wait("Job " + job_name + " forgets " + names);
  }
  const json conditions = job->value("/status/conditions"_json_pointer, json::array());
  const json* failed = runtime::findCondition(conditions, "Failed");
  if (failed != nullptr && failed->value("status", "") == "True") {
    outcome.fail("ForgetNodesFailed", "Job " + job_name + " could not make the cluster forget " + names + " (" +
                                          failed->value("message", std::string("failed")) +
                                          "); its pods' logs say why; delete the Job to try again");
    outcome.forget_retry = kForgetRetry;
    return okStatus();
  }
  const json* complete = runtime::findCondition(conditions, "Complete");
  if (complete != nullptr && complete->value("status", "") == "True") {
    // It ran, yet the cluster lists them: try again with a fresh Job (the next reconcile creates it).
    if (auto removed = removeJob(); !removed) return removed;
  }
  return wait("Job " + job_name + " forgets " + names);
}

Status BrokerClusterReconciler::ensureSecrets(const api::BrokerCluster& cluster, Outcome& outcome) {
  const auto& secrets = kube::resources::secrets();
  // Broker pods that exist were started with the Secrets' current values.
  const auto members = informers_.pods->store().byIndex(kClusterPodsIndex, runtime::objectKey(cluster.ns, cluster.name)).size();
  // A Secret the running brokers depend on is gone: say so and what to do; never make a new one.
  auto refuseToRegenerate = [&](const char* reason, const std::string& secret, const std::string& holding,
                                const std::string& why, const std::string& keys) {
    outcome.degrade(reason, "Secret \"" + secret + "\" holding " + holding + " is gone while " +
                                std::to_string(members) + " broker pods exist; " + why + ". Restore the Secret (" +
                                keys + ") from a backup; or, to start afresh and lose every message the cluster "
                                "holds, delete the BrokerCluster and its PersistentVolumeClaims (label " +
                                api::kClusterLabel + "=" + cluster.name + ") and create it again");
    outcome.stop = true;
  };
  // The Erlang cookie: created once, never regenerated or overwritten.
  const std::string cookie_name = cluster.erlangCookieSecretName();
  const bool may_create_cookie = cluster.spec.erlang_cookie_secret_name.empty() && members == 0;
  auto fresh_cookie = [&] { return builders::buildErlangCookieSecret(cluster, random_(kCookieLength)); };
  bool cookie_created = false;
  auto cookie = may_create_cookie ? secret_reads_.getOrCreate(*client_, cluster.ns, cookie_name, fresh_cookie, cookie_created)
                                  : secret_reads_.get(*client_, cluster.ns, cookie_name);
  if (!cookie && !cookie.error().isNotFound()) return cookie.error();
  if (cookie_created) events_->record(cluster.raw, "Normal", "SecretCreated", "created Erlang cookie Secret " + cookie_name);
  if (!cookie) {
    if (!cluster.spec.erlang_cookie_secret_name.empty()) {
      outcome.degrade("ErlangCookieSecretMissing",
                      "spec.secrets.erlangCookieSecretName names Secret \"" + cookie_name +
                          "\", which does not exist; create it with a key \"cookie\"");
      outcome.stop = true;
      return okStatus();
    }
    if (members > 0) {
      refuseToRegenerate("ErlangCookieMissing", cookie_name, "the Erlang cookie",
                         "warren will not make a new cookie, because nodes with a different cookie cannot rejoin "
                         "the cluster",
                         "key \"cookie\"");
      return okStatus();
    }
    auto created = client_->create(secrets, cluster.ns, fresh_cookie(), {});
    if (!created && !created.error().isAlreadyExists()) return created.error();
    if (created) secret_reads_.remember(*created);
    if (created) events_->record(cluster.raw, "Normal", "SecretCreated", "created Erlang cookie Secret " + cookie_name);
  } else {
    if (runtime::secretValue(*cookie, "cookie").size() < kMinCookieLength) {
      outcome.degrade("ErlangCookieInvalid", "Secret \"" + cookie_name + "\" has no key \"cookie\" of at least " +
                                                 std::to_string(kMinCookieLength) + " characters");
      outcome.stop = true;
      return okStatus();
    }
  }

  // The default user: created once, kept.
  const std::string user_name = cluster.defaultUserSecretName();
  const bool may_create_user = cluster.spec.default_user_secret_name.empty() && members == 0;
  auto fresh_user = [&] { return builders::buildDefaultUserSecret(cluster, "user-" + random_(12), random_(32)); };
  bool user_created = false;
  auto user = may_create_user ? secret_reads_.getOrCreate(*client_, cluster.ns, user_name, fresh_user, user_created)
                              : secret_reads_.get(*client_, cluster.ns, user_name);
  if (!user && !user.error().isNotFound()) return user.error();
  if (user_created) events_->record(cluster.raw, "Normal", "SecretCreated", "created default-user Secret " + user_name);
  if (!user) {
    if (!cluster.spec.default_user_secret_name.empty()) {
      outcome.degrade("DefaultUserSecretMissing", "spec.secrets.defaultUserSecretName names Secret \"" + user_name +
                                                      "\", which does not exist; create it with keys \"username\" and \"password\"");
      outcome.stop = true;
      return okStatus();
    }
    if (members > 0) {
      // RabbitMQ creates the default user on a node's first boot only.
      refuseToRegenerate("DefaultUserMissing", user_name, "the default user's credentials",
                         "warren will not make a new password, because the brokers keep the user they first "
                         "started with",
                         "keys \"username\" and \"password\"");
      return okStatus();
    }
    auto created = client_->create(secrets, cluster.ns, fresh_user(), {});
    if (!created && !created.error().isAlreadyExists()) return created.error();
    if (created) {
      secret_reads_.remember(*created);
      events_->record(cluster.raw, "Normal", "SecretCreated", "created default-user Secret " + user_name);
      return syncPassword(cluster, *created, members, outcome);  // records what the nodes will boot with
    }
  } else if (!user->contains("data") || !(*user)["data"].contains("username") ||
             !(*user)["data"].contains("password")) {
    outcome.degrade("DefaultUserSecretInvalid", "Secret \"" + user_name + "\" needs keys \"username\" and \"password\"");
    outcome.stop = true;
  } else {
    return syncPassword(cluster, *user, members, outcome);
  }
  return okStatus();
}

Status BrokerClusterReconciler::applyChild(const api::BrokerCluster& cluster, const kube::ResourceType& type,
                                           const std::shared_ptr<runtime::Informer>& cache,
                                           const json& desired, Outcome& outcome) {
  const std::string name = desired["metadata"]["name"];
  const runtime::ObjectPtr live = cache->store().get(runtime::objectKey(cluster.ns, name));
  auto applied = runtime::applyOwned(*client_, *client_, type, cluster.ns, live.get(), desired, api::kFieldManager);
  if (applied) return okStatus();
  if (applied.error().isNotOwned()) {
    // Someone else's object under a child's name: never overwritten, reported.
    outcome.fail("NotOwned", applied.error().message);
    return okStatus();
  }
  if (applied.error().isRejectedContent()) {
    // A change the API refuses (an immutable field, content that does not fit the schema): report, do not retry.
    outcome.fail("ChildRejected", type.kind + " " + name + " was rejected: " + applied.error().message);
    return okStatus();
  }
  // Anything else is retried with backoff, and said in status meanwhile.
  outcome.fail("ChildApplyFailed", type.kind + " " + name + " could not be applied: " + applied.error().describe());
  if (!outcome.retry) outcome.retry = applied.error();
  return okStatus();
}

BrokerClusterReconciler::Observed BrokerClusterReconciler::observe(const api::BrokerCluster& cluster,
                                                                   const Outcome& outcome) const {
  Observed observed;
  json status = cluster.status.is_object() ? cluster.status : json::object();
  status["observedGeneration"] = cluster.generation;
  status["selector"] = labelSelector(cluster.selectorLabels());
  status["binding"] = {{"name", cluster.defaultUserSecretName()}};
  json endpoints = {{"amqp", cluster.serviceHost() + ":" + std::to_string(builders::kAmqpPort)},
                    {"management", builders::managementUrl(cluster)}};
  if (cluster.spec.mqtt_enabled) endpoints["mqtt"] = cluster.serviceHost() + ":" + std::to_string(cluster.spec.mqtt_port);
  status["endpoints"] = endpoints;
  if (outcome.departed_nodes) {
    if (outcome.departed_nodes->empty()) {
      status.erase("departedNodes");
    } else {
      status["departedNodes"] = *outcome.departed_nodes;
    }
  }

  // What the informers saw of each broker pod and the Node it runs on.
  std::map<int, runtime::ObjectPtr> pods;
  for (const auto& pod : informers_.pods->store().byIndex(kClusterPodsIndex, runtime::objectKey(cluster.ns, cluster.name))) {
    const int ordinal = ordinalOf(pod->value("/metadata/name"_json_pointer, std::string()));
    if (ordinal >= 0) pods[ordinal] = pod;
  }
  const auto now = failover::Clock::now();
  const auto debounce = std::chrono::seconds(cluster.spec.unhealthy_after_seconds);
  const int count = std::max(cluster.spec.replicas, pods.empty() ? 0 : pods.rbegin()->first + 1);
  std::vector<failover::NodeHealth> health;
  json nodes = json::array();
  int ready = 0;
  for (int ordinal = 0; ordinal < count; ++ordinal) {
    failover::NodeObservation seen;
    seen.ordinal = ordinal;
    json node = {{"name", cluster.nodeName(ordinal)}, {"pod", cluster.podName(ordinal)}};
    if (auto it = pods.find(ordinal); it != pods.end()) {
      const json& pod = *it->second;
      seen.pod_exists = true;
      const json* condition = podReadyCondition(pod);
      seen.pod_ready = condition != nullptr && condition->value("status", "") == "True";
      if (condition != nullptr && condition->contains("lastTransitionTime")) {
        node["since"] = (*condition)["lastTransitionTime"];
        if (auto at = kube::parseRfc3339((*condition)["lastTransitionTime"].get<std::string>())) seen.ready_changed_at = *at;
      } else if (auto created = kube::parseRfc3339(pod.value("/metadata/creationTimestamp"_json_pointer, std::string()))) {
        seen.ready_changed_at = *created;
      }
      seen.pod_failed = pod.value("/status/phase"_json_pointer, std::string()) == "Failed";
      seen.pod_terminating = pod.contains("/metadata/deletionTimestamp"_json_pointer);
      const std::string host = pod.value("/spec/nodeName"_json_pointer, std::string());
      if (!host.empty() && informers_.nodes) {
        if (auto k8s_node = informers_.nodes->store().get(host)) {
          const json conditions = k8s_node->value("/status/conditions"_json_pointer, json::array());
          const json* node_ready = runtime::findCondition(conditions, "Ready");
          seen.host_not_ready = node_ready != nullptr && node_ready->value("status", "") != "True";
        }
      }
    }
    const auto assessed = failover::assessNode(seen, debounce, now);
    node["ready"] = assessed.ready;
    node["healthy"] = assessed.healthy;
    node["reason"] = assessed.reason;
    if (assessed.ready) ++ready;
    if (assessed.recheck_at) {
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(*assessed.recheck_at - now) +
                        std::chrono::milliseconds(50);
      if (!observed.recheck_after || wait < *observed.recheck_after) observed.recheck_after = wait;
    }
    if (ordinal < cluster.spec.replicas) health.push_back(assessed);
    nodes.push_back(node);
  }
  status["nodes"] = nodes;
  status["replicas"] = static_cast<int>(pods.size());
  status["readyReplicas"] = ready;

  // The active node: sticky while healthy, else the lowest-ordinal Ready one.
  std::optional<int> current;
  const std::string active = status.value("activeNode", "");
  for (int ordinal = 0; ordinal < count && !active.empty(); ++ordinal) {
    if (cluster.nodeName(ordinal) == active) current = ordinal;
  }
  const auto policy = cluster.spec.failover_policy == "Manual" ? failover::FailoverPolicy::kManual
                                                               : failover::FailoverPolicy::kAutomatic;
  const auto decision = failover::chooseActiveNode(current, health, policy);
  if (decision.active) status["activeNode"] = cluster.nodeName(*decision.active);
  if (decision.moved) {
    status["lastFailover"] = {{"from", active},
                              {"to", cluster.nodeName(*decision.active)},
                              {"reason", decision.reason},
                              {"time", runtime::formatMicroTime(now)}};
    observed.rerouted = std::make_pair(active, cluster.nodeName(*decision.active));
  }

  json conditions = status.value("conditions", json::array());
  const long long generation = cluster.generation;
  const int desired = cluster.spec.replicas;
  const std::string counted = std::to_string(ready) + "/" + std::to_string(desired) + " nodes ready";
  runtime::setCondition(conditions,
                        ready >= desired ? Condition{"AllReplicasReady", "True", "AllPodsReady", counted}
                                         : Condition{"AllReplicasReady", "False", "NotAllPodsReady", counted},
                        generation);
  runtime::setCondition(conditions,
                        ready > 0 ? Condition{"ClusterAvailable", "True", "Available", "at least one node is ready"}
                                  : Condition{"ClusterAvailable", "False", "Unavailable", "no node is ready"},
                        generation);
  runtime::setCondition(conditions,
                        decision.no_healthy_node
                            ? Condition{"NoHealthyNode", "True", "NoHealthyNode",
                                        "no broker node is healthy; clients are left pointing at " +
                                            (active.empty() ? std::string("no node") : active) +
                                            " until one recovers"}
                            : Condition{"NoHealthyNode", "False", "HealthyNodeAvailable", "at least one node is healthy"},
                        generation);
  runtime::setCondition(conditions, quorumAtRisk(desired, ready), generation);
  runtime::setCondition(conditions,
                        {"ReconcileSuccess", outcome.reconcile_ok ? "True" : "False", outcome.reconcile_reason, outcome.reconcile_message},
                        generation);
  runtime::setCondition(conditions,
                        {"Degraded", outcome.degraded ? "True" : "False", outcome.degraded_reason, outcome.degraded_message},
                        generation);
  if (outcome.password) runtime::setCondition(conditions, *outcome.password, generation);
  status["conditions"] = conditions;
  observed.status = std::move(status);
  return observed;
}

runtime::ReconcileOutcome BrokerClusterReconciler::reconcile(const runtime::Request& request) {
  const runtime::ObjectPtr object = informers_.clusters->store().get(request.key());
  if (!object) {
    // Deleted: the garbage collector removes the children; its series go from /metrics.
    metrics::registry()
        .counter("warren_failovers_total", "Active-node moves, per BrokerCluster.", {"namespace", "cluster"})
        .remove({request.ns, request.name});
    return runtime::ReconcileResult{};
  }
  if (object->contains("/metadata/deletionTimestamp"_json_pointer)) return runtime::ReconcileResult{};

  auto parsed = api::parseBrokerCluster(*object);
  if (!parsed) {
    runtime::StatusDraft status(*object);
    status.setCondition({"ReconcileSuccess", "False", "InvalidSpec", parsed.error().message});
    if (auto written = status.write(*client_, api::brokerClusters(), api::kFieldManager); !written) return written.error();
    return runtime::ReconcileResult{};
  }
  const api::BrokerCluster& cluster = *parsed;
  if (cluster.paused()) {
    log::info("reconciliation paused", {log::Field("cluster", request.key()),
                                        log::Field("annotation", api::kPauseAnnotation)});
    return runtime::ReconcileResult{};
  }

  Outcome outcome;
  std::vector<std::string> departed = cluster.departedNodes();
  bool scaling_down = false;
  if (auto secrets = ensureSecrets(cluster, outcome); !secrets) return secrets.error();
  if (!outcome.stop) {
    json sts = builders::buildStatefulSet(cluster);
    const auto live_sts = informers_.stateful_sets->store().get(runtime::objectKey(cluster.ns, cluster.statefulSetName()));
    if (live_sts) {
      const int current = live_sts->value("/spec/replicas"_json_pointer, 0);
      if (cluster.spec.replicas < current) {
        scaling_down = true;
      } else if (!departed.empty()) {
        // Nodes recorded as departing whose StatefulSet was never lowered (the scale-down was taken back)
        // are members still.
        std::vector<std::string> still_departed;
        for (const auto& node : departed) {
          bool member = false;
          for (int ordinal = 0; ordinal < current; ++ordinal) member = member || cluster.nodeName(ordinal) == node;
          if (!member) still_departed.push_back(node);
        }
        if (still_departed != departed) outcome.departed_nodes = still_departed;
        departed = still_departed;
      }
      if (cluster.spec.replicas < current && cluster.spec.allow_scale_down) {
        if (holdForScaleDown(cluster, current, outcome)) sts["spec"]["replicas"] = current;
      } else if (cluster.spec.replicas < current) {
        sts["spec"]["replicas"] = current;  // keep the nodes; say why
        const json previous = cluster.status.value("conditions", json::array());
        const json* last = runtime::findCondition(previous, "ReconcileSuccess");
        const bool already = last != nullptr && last->value("reason", "") == "ScaleDownRefused";
        outcome.fail("ScaleDownRefused",
                     "spec.replicas " + std::to_string(cluster.spec.replicas) + " is below the " + std::to_string(current) +
                         " running nodes; scaling down can lose queue replicas, so it needs spec.allowScaleDown: true");
        if (!already) events_->record(cluster.raw, "Warning", "ScaleDownRefused", outcome.reconcile_message);
      } else if (cluster.spec.replicas > current && !departed.empty()) {
        // A new node under a departed node's name could not join while the cluster still lists that name.
        sts["spec"]["replicas"] = current;
        outcome.fail("ScaleUpWaiting", "keeping " + std::to_string(current) +
                                           " nodes until the cluster has forgotten the departed nodes (status.departedNodes)");
        outcome.scale_down_pending = true;
      }
    }
    const std::pair<const kube::ResourceType*, std::pair<std::shared_ptr<runtime::Informer>, json>> children[] = {
        {&kube::resources::services(), {informers_.services, builders::buildHeadlessService(cluster)}},
        {&kube::resources::services(), {informers_.services, builders::buildClientService(cluster)}},
        {&kube::resources::configMaps(), {informers_.config_maps, builders::buildConfigMap(cluster)}},
        {&kube::resources::statefulSets(), {informers_.stateful_sets, sts}},
        {&kube::resources::podDisruptionBudgets(), {informers_.pdbs, builders::buildPodDisruptionBudget(cluster)}},
    };
    for (const auto& [type, child] : children) {
      if (auto applied = applyChild(cluster, *type, child.first, child.second, outcome); !applied) return applied.error();
    }
    // Only departed nodes at or above the StatefulSet's size remain here (see above).
    if (live_sts && !scaling_down && !departed.empty()) {
      if (auto forgot = forgetDepartedNodes(cluster, departed, outcome); !forgot) return forgot.error();
    }
  } else {
    outcome.fail("Degraded", outcome.degraded_message);
  }
  const Observed observed = observe(cluster, outcome);
  // Under the cached resourceVersion: an active node decided from a stale cache is refused (Conflict) and
  // decided again, so a move is written, counted and announced once.
  if (auto written = runtime::patchStatusIfChanged(*client_, api::brokerClusters(), cluster.ns, cluster.name,
                                                   runtime::stringAt(cluster.raw, "/metadata/resourceVersion"_json_pointer),
                                                   cluster.status, observed.status, api::kFieldManager);
      !written) {
    return written.error();
  }
  if (observed.rerouted) {
    metrics::registry()
        .counter("warren_failovers_total", "Active-node moves, per BrokerCluster.", {"namespace", "cluster"})
        .with({cluster.ns, cluster.name})
        .inc();
    events_->record(cluster.raw, "Normal", "Rerouted",
                    "active node moved from " + observed.rerouted->first + " to " + observed.rerouted->second);
    log::info("active node moved", {log::Field("cluster", request.key()), log::Field("from", observed.rerouted->first),
                                    log::Field("to", observed.rerouted->second)});
  }
  if (outcome.retry) return *outcome.retry;
  runtime::ReconcileResult result;
  // Sooner if a debounce window ends. Secrets the user brought are not watched (secret_recheck.h): re-read
  // them in a while; the ones warren made are watched, so a cluster of those is never polled.
  result.requeue_after = observed.recheck_after;
  if (!cluster.spec.erlang_cookie_secret_name.empty() || !cluster.spec.default_user_secret_name.empty()) {
    result.requeue_after = std::min(observed.recheck_after.value_or(secret_recheck_), secret_recheck_);
  }
  if (outcome.scale_down_pending) {
    // Members move asynchronously on the brokers: look again shortly.
    result.requeue_after = std::min(result.requeue_after.value_or(kScaleDownRecheck), kScaleDownRecheck);
  }
  if (outcome.forget_retry.count() > 0) {
    result.requeue_after = std::min(result.requeue_after.value_or(outcome.forget_retry), outcome.forget_retry);
  }
  if (outcome.password_pending) {
    // A rotated password not applied yet (the brokers unreachable, say): try again soon, not in a storm.
    result.requeue_after = std::min(result.requeue_after.value_or(kPasswordRetry), kPasswordRetry);
  }
  return result;
}

void addBrokerClusterIndexes(const BrokerClusterReconciler::Informers& informers) {
  informers.pods->addIndex(kClusterPodsIndex, [](const json& pod) {
    const std::string name = pod.value("/metadata/labels"_json_pointer, json::object()).value(api::kClusterLabel, "");
    if (name.empty()) return std::vector<std::string>{};
    return std::vector<std::string>{runtime::objectKey(pod.value("/metadata/namespace"_json_pointer, std::string()), name)};
  });
  informers.pods->addIndex("node", [](const json& pod) {
    const std::string host = pod.value("/spec/nodeName"_json_pointer, std::string());
    return host.empty() ? std::vector<std::string>{} : std::vector<std::string>{host};
  });
}

void addBrokerClusterController(runtime::Manager& manager, const std::string& ns, int workers,
                                std::chrono::milliseconds secret_recheck) {
  const std::string owned = api::kClusterLabel;
  auto informer = [&](const kube::ResourceType& type, const std::string& selector) {
    runtime::InformerOptions options{type, ns, selector, ""};
    options.watcher.name = type.qualifiedName();
    return manager.addInformer(options);
  };
  BrokerClusterReconciler::Informers informers{
      informer(api::brokerClusters(), ""),
      informer(kube::resources::statefulSets(), owned),
      informer(kube::resources::services(), owned),
      informer(kube::resources::configMaps(), owned),
      informer(kube::resources::podDisruptionBudgets(), owned),
      nullptr,
      nullptr};
  // Node health reads only these fields of Pods and Nodes; caching just them
  // keeps a Pod's containers and a Node's image list out of memory.
  {
    runtime::InformerOptions pods{kube::resources::pods(), ns, owned, ""};
    pods.watcher.name = "pods";
    pods.transform_name = "broker-pod-health";
    pods.skip_unchanged_updates = true;
    pods.transform = [](json& pod) {
      runtime::pruneTo(pod, {"/spec/nodeName"_json_pointer, "/status/phase"_json_pointer, "/status/conditions"_json_pointer});
    };
    informers.pods = manager.addInformer(pods);
    runtime::InformerOptions nodes{kube::resources::nodes(), "", "", ""};
    nodes.watcher.name = "nodes";
    // Only each condition's type and status: kubelets (and kwok) rewrite heartbeat times every few seconds,
    // and with them cached every heartbeat would wake every cluster with a pod on the node.
    nodes.transform = [](json& node) {
      runtime::pruneTo(node, {"/status/conditions"_json_pointer});
      auto conditions = node.find("status");
      if (conditions == node.end() || !conditions->is_object()) return;
      auto list = conditions->find("conditions");
      if (list == conditions->end() || !list->is_array()) return;
      for (auto& condition : *list) {
        if (!condition.is_object()) continue;
        json kept = json::object();
        for (const char* key : {"type", "status"}) {
          if (condition.contains(key)) kept[key] = condition[key];
        }
        condition = std::move(kept);
      }
    };
    nodes.transform_name = "node-condition-status";
    nodes.skip_unchanged_updates = true;
    informers.nodes = manager.addInformer(nodes);
  }
  addBrokerClusterIndexes(informers);
  auto secrets = addWarrenSecretsInformer(manager, ns);
  informers.secrets = secrets;
  auto events = std::make_shared<runtime::EventRecorder>(manager.client(), "warren-operator", runtime::EventDelivery::kBackground);
  auto reconciler = std::make_shared<BrokerClusterReconciler>(manager.client(), informers, events, randomAlphanumeric,
                                                              secret_recheck);
  runtime::ControllerOptions options;
  options.name = "brokercluster";
  options.max_concurrent_reconciles = workers;
  auto controller = std::make_shared<runtime::Controller>(options, reconciler);
  controller->watchPrimary(*informers.clusters);
  for (const auto& child : {informers.stateful_sets, informers.services, informers.config_maps, informers.pdbs}) {
    controller->watchOwned(*child, api::kGroup, api::kBrokerClusterKind);
  }
  controller->watchMapped(*informers.pods, [](const json& pod) {
    const std::string cluster = pod.value("/metadata/labels"_json_pointer, json::object()).value(api::kClusterLabel, "");
    if (cluster.empty()) return std::vector<runtime::Request>{};
    return std::vector<runtime::Request>{{pod.value("/metadata/namespace"_json_pointer, std::string()), cluster}};
  });
  // Its cookie or default-user Secret changed or went (labelled with the cluster).
  controller->watchMapped(*secrets, [](const json& secret) {
    const std::string cluster = clusterLabelOf(secret);
    if (cluster.empty()) return std::vector<runtime::Request>{};
    return std::vector<runtime::Request>{{runtime::stringAt(secret, "/metadata/namespace"_json_pointer), cluster}};
  });
  // A Node going NotReady affects the clusters with a broker pod on it.
  auto pods = informers.pods;
  controller->watchMapped(*informers.nodes, [pods](const json& node) {
    std::vector<runtime::Request> requests;
    for (const auto& pod : pods->store().byIndex("node", node.value("/metadata/name"_json_pointer, std::string()))) {
      requests.push_back({pod->value("/metadata/namespace"_json_pointer, std::string()),
                          pod->value("/metadata/labels"_json_pointer, json::object()).value(api::kClusterLabel, "")});
    }
    return requests;
  });
  manager.addController(controller);
}

}  // namespace warren::controllers
