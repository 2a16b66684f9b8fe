#include "controllers/secret_reads.h"

#include "controllers/secret_recheck.h"
#include "runtime/compact_bytes.h"
#include "runtime/object_helpers.h"
#include "runtime/store.h"

namespace warren::controllers {
namespace {

using json = nlohmann::json;

const json::json_pointer kResourceVersion("/metadata/resourceVersion");

bool isWarrens(const json& secret) {
  const auto labels = secret.value("/metadata/labels"_json_pointer, json::object());
  return labels.is_object() && labels.value(kManagedByLabel, "") == kManagedByWarren;
}

// What readers use: identity, labels, owners, type and data; not managedFields or annotations.
std::string pack(const json& secret) {
  json kept = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", json::object()}};
  for (const char* field : {"name", "namespace", "resourceVersion", "uid", "labels", "ownerReferences"}) {
    const json::json_pointer pointer(std::string("/metadata/") + field);
    if (secret.contains(pointer)) kept["metadata"][field] = secret.at(pointer);
  }
  for (const char* field : {"type", "data"}) {
    if (secret.contains(field)) kept[field] = secret[field];
  }
  return runtime::compactObject(kept);
}

}  // namespace

SecretReads::SecretReads(std::shared_ptr<runtime::Informer> warren_secrets)
    : warren_secrets_(std::move(warren_secrets)) {
  if (!warren_secrets_) return;
  // A deleted Secret (its cluster gone, say) is never read again: drop it now rather than keep it forever.
  std::weak_ptr<Reads> reads = reads_;
  warren_secrets_->addHandler({nullptr, nullptr, [reads](const runtime::ObjectPtr& secret) {
                                 if (auto held = reads.lock()) {
                                   std::lock_guard lock(held->mutex);
                                   held->by_key.erase(runtime::objectKey(*secret));
                                 }
                               }});
}

Result<json> SecretReads::get(kube::ObjectReader& reader, const std::string& ns, const std::string& name) {
  const std::string key = runtime::objectKey(ns, name);
  if (warren_secrets_) {
    const std::string version = warren_secrets_->store().resourceVersionAt(key);
    std::lock_guard lock(reads_->mutex);
    if (auto it = reads_->by_key.find(key); it != reads_->by_key.end()) {
      if (!version.empty() && it->second.resource_version == version) {
        return runtime::expandObject(it->second.packed);
      }
      reads_->by_key.erase(it);
    }
  }
  auto live = reader.get(kube::resources::secrets(), ns, name);
  if (live) remember(*live);
  return live;
}

Result<json> SecretReads::getOrCreate(kube::ObjectClient& client, const std::string& ns, const std::string& name,
                                      const std::function<json()>& fresh, bool& created) {
  created = false;
  if (warren_secrets_ && warren_secrets_->store().resourceVersionAt(runtime::objectKey(ns, name)).empty()) {
    auto made = client.create(kube::resources::secrets(), ns, fresh(), {});
    if (made) {
      created = true;
      remember(*made);
      return made;
    }
    if (!made.error().isAlreadyExists()) return made.error();
  }
  return get(client, ns, name);
}

size_t SecretReads::held() const {
  std::lock_guard lock(reads_->mutex);
  return reads_->by_key.size();
}

void SecretReads::remember(const json& secret) {
  if (!warren_secrets_ || !isWarrens(secret)) return;
  const std::string version = runtime::stringAt(secret, kResourceVersion);
  if (version.empty()) return;
  std::string packed = pack(secret);
  std::lock_guard lock(reads_->mutex);
  reads_->by_key[runtime::objectKey(secret)] = Read{version, std::move(packed)};
}

}  // namespace warren::controllers
