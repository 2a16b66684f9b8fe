// Pure functions that build Kubernetes API requests (path, query, content
// type, body) without any I/O, so every request shape is unit-testable.
// Client (client.h) sends what these build.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "kube/http.h"
#include "kube/resource.h"

namespace warren::kube {

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int limit = 0;               // 0: no pagination
  std::string continue_token;  // from the previous page's metadata.continue
  std::string resource_version;
  std::string resource_version_match;  // "", "NotOlderThan" or "Exact"
  // Ask for PartialObjectMetadata (metadata only, no data or spec): lets a
  // controller notice changes to objects whose content it does not cache.
  bool metadata_only = false;
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;  // resume point; "" = start at most recent
  int timeout_seconds = 0;       // server-side watch timeout; 0 = server default
  bool allow_bookmarks = true;
  bool metadata_only = false;    // as in ListOptions
};

struct WriteOptions {
  std::string field_manager;
  bool dry_run = false;
};

struct ApplyOptions {
  std::string field_manager;  // required by the API for server-side apply
  bool force = false;         // take ownership of conflicting fields
  bool dry_run = false;
};

enum class PatchType { kMerge, kJson, kStrategicMerge };
std::string_view patchContentType(PatchType type);

enum class PropagationPolicy { kDefault, kForeground, kBackground, kOrphan };

struct DeleteOptions {
  PropagationPolicy propagation = PropagationPolicy::kDefault;
  std::optional<std::string> precondition_uid;
  std::optional<std::string> precondition_resource_version;
  std::optional<int> grace_period_seconds;
  bool dry_run = false;
};

namespace requests {

// GET of any absolute API path (/version, /apis, ...).
HttpRequest getPath(std::string path);

HttpRequest get(const ResourceType& type, std::string_view ns, std::string_view name,
                std::string_view subresource = {});
HttpRequest list(const ResourceType& type, std::string_view ns, const ListOptions& options);
HttpRequest watch(const ResourceType& type, std::string_view ns, const WatchOptions& options);
HttpRequest create(const ResourceType& type, std::string_view ns, const nlohmann::json& object,
                   const WriteOptions& options = {});
// POST to a subresource of an existing object (serviceaccounts/token, ...).
HttpRequest createSubresource(const ResourceType& type, std::string_view ns,
                              std::string_view name, std::string_view subresource,
                              const nlohmann::json& body, const WriteOptions& options = {});
// PUT of the whole object (or of a subresource such as status or scale).
// `object` must carry metadata.resourceVersion for optimistic concurrency.
HttpRequest update(const ResourceType& type, std::string_view ns, std::string_view name,
                   const nlohmann::json& object, const WriteOptions& options = {},
                   std::string_view subresource = {});
// Server-side apply of `object` (which names apiVersion, kind and name).
HttpRequest apply(const ResourceType& type, std::string_view ns, std::string_view name,
                  const nlohmann::json& object, const ApplyOptions& options,
                  std::string_view subresource = {});
HttpRequest patch(const ResourceType& type, std::string_view ns, std::string_view name,
                  PatchType patch_type, const nlohmann::json& patch,
                  const WriteOptions& options = {}, std::string_view subresource = {});
HttpRequest remove(const ResourceType& type, std::string_view ns, std::string_view name,
                   const DeleteOptions& options = {});

}  // namespace requests
}  // namespace warren::kube
