// FakeClient: an in-memory API server behind kube::ObjectClient, for unit
// tests of reconcilers. It keeps objects by resource, namespace and name,
// assigns uid, resourceVersion and generation, answers NotFound,
// AlreadyExists and Conflict (a stale resourceVersion in an update or in a
// merge patch) as the real one does, applies merge and JSON patches, and
// records every write so a test can assert what was (not) written.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "kube/interfaces.h"

namespace warren::testing {

class FakeClient : public kube::ObjectClient {
 public:
  struct Call {
    std::string verb;  // create, update, apply, patch, delete, patchStatus, ...
    std::string resource;
    std::string ns;
    std::string name;
    nlohmann::json body;
  };

  // Stores an object as if someone else created it (uid and resourceVersion assigned).
  nlohmann::json seed(const kube::ResourceType& type, nlohmann::json object);
  // The stored object, or null.
  nlohmann::json stored(const kube::ResourceType& type, const std::string& ns, const std::string& name) const;
  void erase(const kube::ResourceType& type, const std::string& ns, const std::string& name);

  // Writes only (reads are counted in `reads`).
  std::vector<Call> writes() const;
  std::vector<Call> writesTo(const std::string& resource) const;
  int reads() const;
  void clearCalls();
  // The next call of `verb` on `resource` fails with `error`.
  void failNext(const std::string& verb, const std::string& resource, Error error);

  Result<nlohmann::json> get(const kube::ResourceType& type, std::string_view ns, std::string_view name) override;
  Result<nlohmann::json> list(const kube::ResourceType& type, std::string_view ns,
                              const kube::ListOptions& options) override;
  Result<nlohmann::json> create(const kube::ResourceType& type, std::string_view ns, const nlohmann::json& object,
                                const kube::WriteOptions& options) override;
  Result<nlohmann::json> update(const kube::ResourceType& type, std::string_view ns, const nlohmann::json& object,
                                const kube::WriteOptions& options) override;
  Result<nlohmann::json> apply(const kube::ResourceType& type, std::string_view ns, const nlohmann::json& object,
                               const kube::ApplyOptions& options) override;
  Result<nlohmann::json> patch(const kube::ResourceType& type, std::string_view ns, std::string_view name,
                               kube::PatchType patch_type, const nlohmann::json& patch,
                               const kube::WriteOptions& options) override;
  Result<nlohmann::json> remove(const kube::ResourceType& type, std::string_view ns, std::string_view name,
                                const kube::DeleteOptions& options) override;
  Result<nlohmann::json> updateStatus(const kube::ResourceType& type, std::string_view ns,
                                      const nlohmann::json& object, const kube::WriteOptions& options) override;
  Result<nlohmann::json> applyStatus(const kube::ResourceType& type, std::string_view ns,
                                     const nlohmann::json& object, const kube::ApplyOptions& options) override;
  Result<nlohmann::json> patchStatus(const kube::ResourceType& type, std::string_view ns, std::string_view name,
                                     kube::PatchType patch_type, const nlohmann::json& patch,
                                     const kube::WriteOptions& options) override;

 private:
  using Key = std::tuple<std::string, std::string, std::string>;
  Result<nlohmann::json> write(const std::string& verb, const kube::ResourceType& type, std::string_view ns,
                               std::string_view name, const nlohmann::json& body);
  std::optional<Error> injected(const std::string& verb, const std::string& resource);
  nlohmann::json stamp(nlohmann::json object, const nlohmann::json* previous);

  mutable std::mutex mutex_;
  std::map<Key, nlohmann::json> objects_;
  std::vector<Call> calls_;
  int reads_ = 0;
  long long next_version_ = 1;
  std::map<std::pair<std::string, std::string>, Error> failures_;
};

}  // namespace warren::testing
