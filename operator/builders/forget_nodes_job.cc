// The Job that makes a cluster forget the nodes a safe scale-down removed.
// RabbitMQ 4.0 has no HTTP call for it, and warren holds no exec rights into
// broker pods: the Job runs the cluster's own image with its Erlang cookie
// and calls `rabbitmqctl forget_cluster_node` on a running member over Erlang
// distribution, like the brokers reach each other. Its pod is named and
// addressed like a broker (hostname and subdomain under the headless Service,
// long node names) but carries none of the brokers' selector labels, so no
// Service, PodDisruptionBudget or health check counts it as a broker.
#include "builders/broker_cluster_children.h"
#include "builders/pod_security.h"
#include "common/text.h"

namespace warren::builders {
namespace {

using json = nlohmann::json;

// Arguments: the running member to call, then the nodes to forget. A node
// already forgotten fails its call; the controller checks the outcome through
// the management API either way.
const std::string kForgetScript =
    std::string("set -u\n"
                "umask 077\n") +
    kInstallCookieLines +
    "through=$1\n"
    "shift\n"
    "failed=0\n"
    "for node in \"$@\"; do\n"
    "  if rabbitmqctl --quiet -n \"$through\" forget_cluster_node \"$node\"; then\n"
    "    echo \"forgot $node (through $through)\"\n"
    "  else\n"
    "    failed=1\n"
    "  fi\n"
    "done\n"
    "exit $failed\n";

}  // namespace

std::string forgetNodesJobName(const api::BrokerCluster& cluster) { return cluster.name + "-forget-nodes"; }

json buildForgetNodesJob(const api::BrokerCluster& cluster, const std::string& through,
                         const std::vector<std::string>& departed) {
  const auto& spec = cluster.spec;
  json metadata = childMetadata(cluster, forgetNodesJobName(cluster));
  metadata["annotations"] = {{kDepartedNodesAnnotation, joined(departed, ",")}};
  json command = json::array({"sh", "-c", kForgetScript, "forget-nodes", through});
  for (const auto& node : departed) command.push_back(node);
  const json container = {
      {"name", "forget-nodes"},
      {"image", spec.image},
      {"command", command},
      // HOME is where kInstallCookieLines puts the cookie, and where rabbitmqctl looks for it.
      {"env", json::array({{{"name", "HOME"}, {"value", "/var/lib/rabbitmq"}},
                           {{"name", "RABBITMQ_USE_LONGNAME"}, {"value", "true"}}})},
      {"securityContext", brokerContainerSecurity()},
      {"resources", {{"requests", {{"cpu", "100m"}, {"memory", "128Mi"}}}, {"limits", {{"memory", "256Mi"}}}}},
      {"volumeMounts", json::array({{{"name", "rabbitmq-home"}, {"mountPath", "/var/lib/rabbitmq"}},
                                    {{"name", "erlang-cookie-secret"}, {"mountPath", kCookieSecretMount}}})}};
  json pod_spec = {
      {"restartPolicy", "Never"},
      {"hostname", "warren-forget-nodes"},
      {"subdomain", cluster.headlessServiceName()},
      {"securityContext", brokerPodSecurity()},
      {"containers", json::array({container})},
      {"volumes", json::array({{{"name", "rabbitmq-home"}, {"emptyDir", json::object()}}, erlangCookieVolume(cluster)})}};
  placeLikeBrokers(cluster, pod_spec);
  const json pod_labels = {{"app.kubernetes.io/name", cluster.name},
                           {"app.kubernetes.io/component", "forget-nodes"},
                           {"app.kubernetes.io/part-of", "warren"},
                           {"app.kubernetes.io/managed-by", "warren-operator"}};
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"metadata", metadata},
          {"spec",
           {{"backoffLimit", 3},
            {"activeDeadlineSeconds", 600},
            {"ttlSecondsAfterFinished", 3600},
            {"template", {{"metadata", {{"labels", pod_labels}}}, {"spec", pod_spec}}}}}};
}

}  // namespace warren::builders
