// SecretReads: the Secrets of warren's that a reconciler read or wrote, kept
// with the resourceVersion they had, so the next reconcile reads one again
// with a GET only when warren's metadata-only Secret cache shows another
// resourceVersion (an edit, a rotation) or none (deleted, or not seen yet).
// A cluster's reconciles during creation and settling would otherwise read
// its cookie and default-user Secrets every time. Only Secrets labelled as
// warren's are kept (the only ones the metadata cache can vouch for), in
// memory only, packed, and never logged; a Secret is dropped when the cache
// reports it deleted or no longer shows it at a read.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "kube/interfaces.h"
#include "runtime/informer.h"

namespace warren::controllers {

class SecretReads {
 public:
  // `warren_secrets`: the metadata cache of warren's Secrets
  // (addWarrenSecretsInformer), not started yet (a delete handler is added);
  // null makes every read a GET.
  explicit SecretReads(std::shared_ptr<runtime::Informer> warren_secrets);

  // Secret ns/name as a GET would return it (data, labels, owners, resourceVersion).
  Result<nlohmann::json> get(kube::ObjectReader& reader, const std::string& ns, const std::string& name);
  // A Secret a create or update returned.
  void remember(const nlohmann::json& secret);

  // How many Secrets are kept.
  size_t held() const;

  // Like get(), for a Secret warren would create when missing: when the
  // metadata cache shows none of that name (a new cluster's case), `fresh()`
  // is created first, saving the read that would answer 404; a Secret that
  // exists after all (someone's, or warren's not seen yet) refuses the
  // create with AlreadyExists and is then read. `created` says which
  // happened. With no metadata cache this is get().
  Result<nlohmann::json> getOrCreate(kube::ObjectClient& client, const std::string& ns, const std::string& name,
                                     const std::function<nlohmann::json()>& fresh, bool& created);

 private:
  struct Read {
    std::string resource_version;
    std::string packed;
  };
  // Shared with the informer's delete handler, which may outlive this object.
  struct Reads {
    std::mutex mutex;
    std::unordered_map<std::string, Read> by_key;
  };

  std::shared_ptr<runtime::Informer> warren_secrets_;
  std::shared_ptr<Reads> reads_ = std::make_shared<Reads>();
};

}  // namespace warren::controllers
