#include "kube/resource.h"

#include "kube/http.h"

namespace warren::kube {

std::string ResourceType::apiVersion() const {
  return group.empty() ? version : group + "/" + version;
}

std::string ResourceType::qualifiedName() const {
  return group.empty() ? plural : plural + "." + group;
}

std::string groupVersionPath(const ResourceType& type) {
  if (type.group.empty()) return "/api/" + percentEncode(type.version);
  return "/apis/" + percentEncode(type.group) + "/" + percentEncode(type.version);
}

std::string collectionPath(const ResourceType& type, std::string_view ns) {
  std::string path = groupVersionPath(type);
  if (type.namespaced && !ns.empty()) path += "/namespaces/" + percentEncode(ns);
  path += "/" + percentEncode(type.plural);
  return path;
}

std::string objectPath(const ResourceType& type, std::string_view ns, std::string_view name,
                       std::string_view subresource) {
  std::string path = collectionPath(type, ns) + "/" + percentEncode(name);
  if (!subresource.empty()) path += "/" + percentEncode(subresource);
  return path;
}

namespace resources {
#define WARREN_RESOURCE(fn, group, version, kind, plural, namespaced)        \
  const ResourceType& fn() {                                                  \
    static const ResourceType type{group, version, kind, plural, namespaced}; \
    return type;                                                              \
  }
WARREN_RESOURCE(configMaps, "", "v1", "ConfigMap", "configmaps", true)
WARREN_RESOURCE(secrets, "", "v1", "Secret", "secrets", true)
WARREN_RESOURCE(services, "", "v1", "Service", "services", true)
WARREN_RESOURCE(serviceAccounts, "", "v1", "ServiceAccount", "serviceaccounts", true)
WARREN_RESOURCE(pods, "", "v1", "Pod", "pods", true)
WARREN_RESOURCE(nodes, "", "v1", "Node", "nodes", false)
WARREN_RESOURCE(namespaces, "", "v1", "Namespace", "namespaces", false)
WARREN_RESOURCE(events, "", "v1", "Event", "events", true)
WARREN_RESOURCE(statefulSets, "apps", "v1", "StatefulSet", "statefulsets", true)
WARREN_RESOURCE(deployments, "apps", "v1", "Deployment", "deployments", true)
WARREN_RESOURCE(jobs, "batch", "v1", "Job", "jobs", true)
WARREN_RESOURCE(podDisruptionBudgets, "policy", "v1", "PodDisruptionBudget",
                "poddisruptionbudgets", true)
WARREN_RESOURCE(leases, "coordination.k8s.io", "v1", "Lease", "leases", true)
WARREN_RESOURCE(customResourceDefinitions, "apiextensions.k8s.io", "v1",
                "CustomResourceDefinition", "customresourcedefinitions", false)
WARREN_RESOURCE(roles, "rbac.authorization.k8s.io", "v1", "Role", "roles", true)
WARREN_RESOURCE(roleBindings, "rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings",
                true)
#undef WARREN_RESOURCE
}  // namespace resources

}  // namespace warren::kube
