#include "kube/request_builder.h"

namespace warren::kube {
namespace {

constexpr std::string_view kJson = "application/json";
// Metadata-only lists and watches, with plain JSON as the server's fallback.
constexpr const char* kMetadataListAccept =
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
constexpr const char* kMetadataAccept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

void addWriteQuery(HttpRequest& request, const std::string& field_manager, bool dry_run) {
  if (!field_manager.empty()) request.query.emplace_back("fieldManager", field_manager);
  if (dry_run) request.query.emplace_back("dryRun", "All");
}

HttpRequest withBody(std::string method, std::string verb, std::string path,
                     std::string_view content_type, const nlohmann::json& body) {
  HttpRequest request;
  request.method = std::move(method);
  request.verb = std::move(verb);
  request.path = std::move(path);
  request.content_type = content_type;
  request.body = body.dump();
  return request;
}

void addSelectors(HttpRequest& request, const std::string& labels, const std::string& fields) {
  if (!labels.empty()) request.query.emplace_back("labelSelector", labels);
  if (!fields.empty()) request.query.emplace_back("fieldSelector", fields);
}

}  // namespace

std::string_view patchContentType(PatchType type) {
  switch (type) {
    case PatchType::kMerge: return "application/merge-patch+json";
    case PatchType::kJson: return "application/json-patch+json";
    case PatchType::kStrategicMerge: return "application/strategic-merge-patch+json";
  }
  return "application/merge-patch+json";
}

namespace requests {

HttpRequest getPath(std::string path) {
  HttpRequest request;
  request.method = "GET";
  request.verb = "get";
  request.path = std::move(path);
  return request;
}

HttpRequest get(const ResourceType& type, std::string_view ns, std::string_view name,
                std::string_view subresource) {
  return getPath(objectPath(type, ns, name, subresource));
}

HttpRequest list(const ResourceType& type, std::string_view ns, const ListOptions& options) {
  HttpRequest request = getPath(collectionPath(type, ns));
  request.verb = "list";
  addSelectors(request, options.label_selector, options.field_selector);
  if (options.limit > 0) request.query.emplace_back("limit", std::to_string(options.limit));
  if (!options.continue_token.empty()) request.query.emplace_back("continue", options.continue_token);
  if (!options.resource_version.empty()) {
    request.query.emplace_back("resourceVersion", options.resource_version);
  }
  if (!options.resource_version_match.empty()) {
    request.query.emplace_back("resourceVersionMatch", options.resource_version_match);
  }
  if (options.metadata_only) request.headers.emplace_back("Accept", kMetadataListAccept);
  return request;
}

HttpRequest watch(const ResourceType& type, std::string_view ns, const WatchOptions& options) {
  HttpRequest request = getPath(collectionPath(type, ns));
  request.verb = "watch";
  request.query.emplace_back("watch", "1");
  addSelectors(request, options.label_selector, options.field_selector);
  if (!options.resource_version.empty()) {
    request.query.emplace_back("resourceVersion", options.resource_version);
  }
  if (options.allow_bookmarks) request.query.emplace_back("allowWatchBookmarks", "true");
  if (options.timeout_seconds > 0) {
    request.query.emplace_back("timeoutSeconds", std::to_string(options.timeout_seconds));
  }
  if (options.metadata_only) request.headers.emplace_back("Accept", kMetadataAccept);
  return request;
}

HttpRequest create(const ResourceType& type, std::string_view ns, const nlohmann::json& object,
                   const WriteOptions& options) {
  HttpRequest request = withBody("POST", "create", collectionPath(type, ns), kJson, object);
  addWriteQuery(request, options.field_manager, options.dry_run);
  return request;
}

HttpRequest createSubresource(const ResourceType& type, std::string_view ns,
                              std::string_view name, std::string_view subresource,
                              const nlohmann::json& body, const WriteOptions& options) {
  HttpRequest request =
      withBody("POST", "create", objectPath(type, ns, name, subresource), kJson, body);
  addWriteQuery(request, options.field_manager, options.dry_run);
  return request;
}

HttpRequest update(const ResourceType& type, std::string_view ns, std::string_view name,
                   const nlohmann::json& object, const WriteOptions& options,
                   std::string_view subresource) {
  HttpRequest request =
      withBody("PUT", "update", objectPath(type, ns, name, subresource), kJson, object);
  addWriteQuery(request, options.field_manager, options.dry_run);
  return request;
}

HttpRequest apply(const ResourceType& type, std::string_view ns, std::string_view name,
                  const nlohmann::json& object, const ApplyOptions& options,
                  std::string_view subresource) {
  // JSON is valid YAML, so the apply body is sent as JSON.
  HttpRequest request = withBody("PATCH", "apply", objectPath(type, ns, name, subresource),
                                 "application/apply-patch+yaml", object);
  addWriteQuery(request, options.field_manager, options.dry_run);
  if (options.force) request.query.emplace_back("force", "true");
  return request;
}

HttpRequest patch(const ResourceType& type, std::string_view ns, std::string_view name,
                  PatchType patch_type, const nlohmann::json& patch, const WriteOptions& options,
                  std::string_view subresource) {
  HttpRequest request = withBody("PATCH", "patch", objectPath(type, ns, name, subresource),
                                 patchContentType(patch_type), patch);
  addWriteQuery(request, options.field_manager, options.dry_run);
  return request;
}

HttpRequest remove(const ResourceType& type, std::string_view ns, std::string_view name,
                   const DeleteOptions& options) {
  HttpRequest request;
  request.method = "DELETE";
  request.verb = "delete";
  request.path = objectPath(type, ns, name);
  nlohmann::json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  switch (options.propagation) {
    case PropagationPolicy::kDefault: break;
    case PropagationPolicy::kForeground: body["propagationPolicy"] = "Foreground"; break;
    case PropagationPolicy::kBackground: body["propagationPolicy"] = "Background"; break;
    case PropagationPolicy::kOrphan: body["propagationPolicy"] = "Orphan"; break;
  }
  if (options.precondition_uid) body["preconditions"]["uid"] = *options.precondition_uid;
  if (options.precondition_resource_version) {
    body["preconditions"]["resourceVersion"] = *options.precondition_resource_version;
  }
  if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
  if (options.dry_run) body["dryRun"] = nlohmann::json::array({"All"});
  request.content_type = kJson;
  request.body = body.dump();
  return request;
}

}  // namespace requests
}  // namespace warren::kube
