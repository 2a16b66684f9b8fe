#include "controllers/secret_recheck.h"

#include "runtime/object_helpers.h"

namespace warren::controllers {

std::string clusterLabelOf(const nlohmann::json& object) {
  static const nlohmann::json::json_pointer kLabel("/metadata/labels/warren.dev~1cluster");  // ~1 is "/"
  return runtime::stringAt(object, kLabel);
}

std::shared_ptr<runtime::Informer> addWarrenSecretsInformer(runtime::Manager& manager, const std::string& ns) {
  runtime::InformerOptions options{kube::resources::secrets(), ns, std::string(kManagedByLabel) + "=" + kManagedByWarren, ""};
  options.watcher.name = "secrets (metadata, warren's)";
  options.metadata_only = true;
  options.transform_name = runtime::kKeepIdentityAndOwnership;
  options.transform = runtime::keepIdentityAndOwnership;
  return manager.addInformer(options);
}

}  // namespace warren::controllers
