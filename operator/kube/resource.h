// ResourceType names a Kubernetes API resource (core or group, namespaced or
// cluster-scoped, built-in or custom) and turns it into REST paths.
#pragma once

#include <string>
#include <string_view>

namespace warren::kube {

struct ResourceType {
  std::string group;    // "" for the core group
  std::string version;  // "v1"
  std::string kind;     // "ConfigMap"
  std::string plural;   // "configmaps"
  bool namespaced = true;

  // "v1" or "apps/v1".
  std::string apiVersion() const;
  // "configmaps" or "statefulsets.apps" (for messages).
  std::string qualifiedName() const;
};

// /api/v1 or /apis/GROUP/VERSION.
std::string groupVersionPath(const ResourceType& type);
// Collection: .../namespaces/NS/PLURAL, or .../PLURAL when `ns` is empty
// (all namespaces) or the resource is cluster-scoped.
std::string collectionPath(const ResourceType& type, std::string_view ns);
// One object, optionally a subresource of it (status, scale, token, ...).
std::string objectPath(const ResourceType& type, std::string_view ns, std::string_view name,
                       std::string_view subresource = {});

// Built-in resource types warren uses.
namespace resources {
const ResourceType& configMaps();
const ResourceType& secrets();
const ResourceType& services();
const ResourceType& serviceAccounts();
const ResourceType& pods();
const ResourceType& nodes();
const ResourceType& namespaces();
const ResourceType& events();
const ResourceType& statefulSets();
const ResourceType& deployments();
const ResourceType& jobs();
const ResourceType& podDisruptionBudgets();
const ResourceType& leases();
const ResourceType& customResourceDefinitions();
const ResourceType& roles();
const ResourceType& roleBindings();
}  // namespace resources

}  // namespace warren::kube
