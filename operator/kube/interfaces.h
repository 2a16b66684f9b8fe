// Small client interfaces in the manner of controller-runtime: readers get
// and list, writers create/update/apply/patch/delete, status writers touch
// only the status subresource. Controllers depend on these, so tests can
// substitute a fake and the informer cache can serve reads.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "kube/request_builder.h"
#include "kube/resource.h"

namespace warren::kube {

class ObjectReader {
 public:
  virtual ~ObjectReader() = default;
  virtual Result<nlohmann::json> get(const ResourceType& type, std::string_view ns,
                                     std::string_view name) = 0;
  // One page (options.limit) or the whole list; returns the List object.
  virtual Result<nlohmann::json> list(const ResourceType& type, std::string_view ns,
                                      const ListOptions& options) = 0;
};

class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;
  virtual Result<nlohmann::json> create(const ResourceType& type, std::string_view ns,
                                        const nlohmann::json& object,
                                        const WriteOptions& options) = 0;
  virtual Result<nlohmann::json> update(const ResourceType& type, std::string_view ns,
                                        const nlohmann::json& object,
                                        const WriteOptions& options) = 0;
  virtual Result<nlohmann::json> apply(const ResourceType& type, std::string_view ns,
                                       const nlohmann::json& object,
                                       const ApplyOptions& options) = 0;
  virtual Result<nlohmann::json> patch(const ResourceType& type, std::string_view ns,
                                       std::string_view name, PatchType patch_type,
                                       const nlohmann::json& patch,
                                       const WriteOptions& options) = 0;
  // Returns the object as the server answered (the deleted object, or a
  // Status when it is gone at once).
  virtual Result<nlohmann::json> remove(const ResourceType& type, std::string_view ns,
                                        std::string_view name, const DeleteOptions& options) = 0;
};

class StatusWriter {
 public:
  virtual ~StatusWriter() = default;
  virtual Result<nlohmann::json> updateStatus(const ResourceType& type, std::string_view ns,
                                              const nlohmann::json& object,
                                              const WriteOptions& options) = 0;
  virtual Result<nlohmann::json> applyStatus(const ResourceType& type, std::string_view ns,
                                             const nlohmann::json& object,
                                             const ApplyOptions& options) = 0;
  virtual Result<nlohmann::json> patchStatus(const ResourceType& type, std::string_view ns,
                                             std::string_view name, PatchType patch_type,
                                             const nlohmann::json& patch,
                                             const WriteOptions& options) = 0;
};

// The three together, as a reconciler takes them (controller-runtime's
// client.Client): kube::Client implements it against the API server, tests
// against an in-memory fake.
class ObjectClient : public ObjectReader, public ObjectWriter, public StatusWriter {};

// metadata.name / metadata.namespace of an object ("" when absent).
std::string objectName(const nlohmann::json& object);
std::string objectNamespace(const nlohmann::json& object);

}  // namespace warren::kube
