#include "mirror_controller.h"

#include "runtime/object_helpers.h"

namespace warren::testing {

using json = nlohmann::json;

MirrorReconciler::MirrorReconciler(std::shared_ptr<kube::Client> client,
                                   std::shared_ptr<runtime::Informer> sources,
                                   std::shared_ptr<runtime::Informer> mirrors)
    : client_(std::move(client)), sources_(std::move(sources)), mirrors_(std::move(mirrors)) {}

runtime::ReconcileOutcome MirrorReconciler::reconcile(const runtime::Request& request) {
  if (on_reconcile) on_reconcile(request, true);
  struct End {
    MirrorReconciler& self;
    const runtime::Request& request;
    ~End() {
      if (self.on_reconcile) self.on_reconcile(request, false);
    }
  } end{*this, request};

  // Reads come from the cache.
  const runtime::ObjectPtr source = sources_->store().get(request.key());
  if (!source || (*source)["metadata"].contains("deletionTimestamp")) {
    return runtime::ReconcileResult{};  // the garbage collector removes the mirror
  }
  const json data = source->value("data", json::object());
  const std::string mirror_name = request.name + "-mirror";
  // Level-based and quiet: write only when the cached mirror differs.
  if (auto mirror = mirrors_->store().get(runtime::objectKey(request.ns, mirror_name))) {
    const bool owned = runtime::controllerOwner(*mirror, "", "ConfigMap") ==
                       runtime::Request{request.ns, request.name};
    if (owned && mirror->value("data", json::object()) == data) return runtime::ReconcileResult{};
  }
  const json desired = {
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata",
       {{"name", mirror_name},
        {"namespace", request.ns},
        {"labels", {{"warren.dev/mirror-of", request.name}}},
        {"ownerReferences", json::array({runtime::controllerReference(*source)})}}},
      {"data", data}};
  ++writes;
  auto applied = client_->apply(kube::resources::configMaps(), request.ns, desired,
                                {field_manager, true});
  if (!applied) return applied.error();
  return runtime::ReconcileResult{};
}

std::shared_ptr<MirrorReconciler> addMirrorController(runtime::Manager& manager,
                                                      const std::string& ns, int workers) {
  runtime::InformerOptions sources{kube::resources::configMaps(), ns, "warren.dev/mirror=true", ""};
  sources.watcher.name = "configmaps(sources)";
  runtime::InformerOptions mirrors{kube::resources::configMaps(), ns, "warren.dev/mirror-of", ""};
  mirrors.watcher.name = "configmaps(mirrors)";
  auto source_informer = manager.addInformer(sources);
  auto mirror_informer = manager.addInformer(mirrors);
  auto reconciler = std::make_shared<MirrorReconciler>(manager.client(), source_informer, mirror_informer);
  runtime::ControllerOptions options;
  options.name = "mirror";
  options.max_concurrent_reconciles = workers;
  auto controller = std::make_shared<runtime::Controller>(options, reconciler);
  controller->watchPrimary(*source_informer);
  controller->watchOwned(*mirror_informer, "", "ConfigMap");
  manager.addController(controller);
  return reconciler;
}

}  // namespace warren::testing
