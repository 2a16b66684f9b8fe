#include "controllers/offload_pipeline_controller.h"

#include <algorithm>

#include "api/broker_cluster.h"
#include "builders/broker_cluster_children.h"
#include "builders/offload_pipeline_children.h"
#include "controllers/secret_recheck.h"
#include "kube/tls_material.h"
#include "runtime/object_helpers.h"
#include "runtime/status_draft.h"

namespace warren::controllers {
namespace {

using json = nlohmann::json;
using runtime::Condition;

constexpr const char* kClusterIndex = "offload-cluster";

// A Secret's decoded values by key; `missing` says what is absent in words.
struct SecretRead {
  std::map<std::string, std::string> values;
  std::string missing;
};

// Reads `keys` of Secret ns/name; an absent Secret or key is reported in
// `missing`, an API failure is an Error (retried).
Result<SecretRead> readSecret(kube::ObjectReader& reader, const std::string& ns, const std::string& name,
                              const std::vector<std::string>& keys) {
  SecretRead read;
  auto secret = reader.get(kube::resources::secrets(), ns, name);
  if (!secret) {
    if (!secret.error().isNotFound()) return secret.error();
    read.missing = "Secret " + ns + "/" + name + " does not exist";
    return read;
  }
  for (const auto& key : keys) {
    std::string value = runtime::secretValue(*secret, key);
    if (value.empty()) {
      read.missing = "Secret " + ns + "/" + name + " has no key " + key;
      return read;
    }
    read.values[key] = std::move(value);
  }
  return read;
}

// The reason a backend error is reported with, from the dependency's own.
std::string reasonOf(const Error& error, const std::string& fallback) {
  return error.reason.empty() ? fallback : error.reason;
}

}  // namespace

struct OffloadPipelineReconciler::Inputs {
  builders::PipelineEndpoints endpoints;
  offload::S3Config s3;
  offload::ManagementAccess management;
  std::string cluster_host;
  // Empty when the inputs of that part could be read; else why not.
  std::optional<Condition> storage_problem, database_problem, topology_problem;
};

OffloadPipelineReconciler::OffloadPipelineReconciler(std::shared_ptr<kube::ObjectClient> client,
                                                     std::shared_ptr<runtime::Informer> pipelines,
                                                     std::shared_ptr<runtime::Informer> clusters,
                                                     std::shared_ptr<runtime::Informer> deployments,
                                                     std::shared_ptr<OffloadBackends> backends,
                                                     std::shared_ptr<runtime::EventRecorder> events,
                                                     OffloadPipelineSettings settings)
    : client_(std::move(client)), pipelines_(std::move(pipelines)), clusters_(std::move(clusters)),
      deployments_(std::move(deployments)), backends_(std::move(backends)), events_(std::move(events)),
      settings_(std::move(settings)) {}

OffloadPipelineReconciler::Inputs OffloadPipelineReconciler::readInputs(const api::OffloadPipeline& pipeline) {
  Inputs inputs;
  const api::OffloadPipelineSpec& spec = pipeline.spec;
  auto failed = [](const Error& error) { return Condition{"", "False", "SecretReadFailed", error.describe()}; };

  // Storage: the credentials (and CA) Secrets in the pipeline's namespace.
  const api::OffloadStorage& storage = spec.storage;
  inputs.s3.endpoint = storage.endpoint;
  inputs.s3.region = storage.region;
  auto credentials = readSecret(*client_, pipeline.ns, storage.credentials_secret,
                                {storage.access_key_id_key, storage.secret_access_key_key});
  if (!credentials) {
    inputs.storage_problem = failed(credentials.error());
  } else if (!credentials->missing.empty()) {
    inputs.storage_problem = Condition{"StorageReady", "False", "CredentialsMissing", credentials->missing};
  } else {
    inputs.s3.access_key = inputs.endpoints.s3_access_key = credentials->values[storage.access_key_id_key];
    inputs.s3.secret_key = inputs.endpoints.s3_secret_key = credentials->values[storage.secret_access_key_key];
  }
  if (!inputs.storage_problem && !storage.ca.name.empty()) {
    auto ca = readSecret(*client_, pipeline.ns, storage.ca.name, {storage.ca.key});
    if (!ca) {
      inputs.storage_problem = failed(ca.error());
    } else if (!ca->missing.empty()) {
      inputs.storage_problem = Condition{"StorageReady", "False", "CaMissing", ca->missing};
    } else {
      inputs.s3.ca_pem = ca->values[storage.ca.key];
    }
  }

  // Database: the URI Secret.
  auto database = readSecret(*client_, pipeline.ns, spec.database.uri.name, {spec.database.uri.key});
  if (!database) {
    inputs.database_problem = failed(database.error());
  } else if (!database->missing.empty()) {
    inputs.database_problem = Condition{"DatabaseReady", "False", "CredentialsMissing", database->missing};
  } else {
    inputs.endpoints.database_uri = database->values[spec.database.uri.key];
  }

  // Broker: the cluster (here, or in a namespace that allows this one) and its default user.
  const std::string& cluster_ns = pipeline.clusterNamespace();
  const std::string cluster_ref = cluster_ns + "/" + spec.cluster_name;
  const runtime::ObjectPtr cluster_object = clusters_->store().get(runtime::objectKey(cluster_ns, spec.cluster_name));
  auto topology = [&](const std::string& reason, const std::string& message) {
    inputs.topology_problem = Condition{"TopologyReady", "False", reason, message};
    return inputs;
  };
  if (!cluster_object) return topology("ClusterNotFound", "BrokerCluster " + cluster_ref + " does not exist");
  auto cluster = api::parseBrokerCluster(*cluster_object);
  if (!cluster) return topology("ClusterInvalid", "BrokerCluster " + cluster_ref + " is invalid: " + cluster.error().message);
  if (!cluster->allowsReferencesFrom(pipeline.ns)) {
    return topology("NamespaceNotAllowed", "BrokerCluster " + cluster_ref + " does not list namespace " + pipeline.ns +
                                               " in spec.failover.allowedBindingNamespaces");
  }
  auto user = readSecret(*client_, cluster_ns, cluster->defaultUserSecretName(), {"username", "password"});
  if (!user) return topology("SecretReadFailed", user.error().describe());
  if (!user->missing.empty()) return topology("CredentialsMissing", "the BrokerCluster's default user: " + user->missing);
  inputs.endpoints.amqp_host = inputs.cluster_host = cluster->serviceHost();
  inputs.endpoints.amqp_port = builders::kAmqpPort;
  inputs.endpoints.username = user->values["username"];
  inputs.endpoints.password = user->values["password"];
  inputs.management.url = builders::managementUrl(*cluster);
  inputs.management.username = inputs.endpoints.username;
  inputs.management.password = inputs.endpoints.password;
  return inputs;
}

runtime::ReconcileOutcome OffloadPipelineReconciler::reconcile(const runtime::Request& request) {
  const runtime::ObjectPtr object = pipelines_->store().get(request.key());
  if (!object) return runtime::ReconcileResult{};
  if (object->contains("/metadata/deletionTimestamp"_json_pointer)) {
    if (!runtime::hasFinalizer(*object, api::kOffloadFinalizer)) return runtime::ReconcileResult{};
    return finalize(*object);
  }
  runtime::StatusDraft draft(*object);
  json& status = draft.fields();
  auto parsed = api::parseOffloadPipeline(*object);
  if (!parsed) {
    draft.setCondition({"Ready", "False", "InvalidSpec", parsed.error().message});
    if (auto written = draft.write(*client_, api::offloadPipelines(), api::kFieldManager); !written) return written.error();
    return runtime::ReconcileResult{};
  }
  const api::OffloadPipeline& pipeline = *parsed;
  // The finalizer first: from here on, warren declares things it must remove. The update comes back as an event.
  if (!runtime::hasFinalizer(*object, api::kOffloadFinalizer)) {
    if (auto added = runtime::addFinalizer(*client_, api::offloadPipelines(), *object, api::kOffloadFinalizer); !added) {
      return added.error();
    }
    return runtime::ReconcileResult{};
  }

  const offload::Topology topology(pipeline.topologyName());
  status["pointerExchange"] = topology.pointerExchange();
  status["ackQueue"] = topology.ackQueue();
  status["ledgerQueue"] = topology.ledgerQueue();
  status["deadLetterQueue"] = topology.deadLetterQueue();
  status["recipientsTotal"] = pipeline.spec.recipients.size();
  json queues = json::array();
  for (const auto& recipient : pipeline.spec.recipients) queues.push_back(topology.recipientQueue(recipient));
  status["recipientQueues"] = queues;
  status["ledgerSchema"] = pipeline.ledgerSchema();

  Inputs inputs = readInputs(pipeline);
  bool dependency_down = false;
  auto report = [&](std::optional<Condition> problem, const std::string& type, const std::function<Condition()>& check) {
    Condition condition = problem ? *problem : check();
    condition.type = type;
    if (condition.status != "True") dependency_down = true;
    draft.setCondition(condition);
  };

  report(inputs.storage_problem, "StorageReady", [&] {
    auto checked = backends_->checkStorage(inputs.s3, pipeline.spec.storage.bucket, pipeline.spec.storage.create_bucket);
    if (!checked) {
      const std::string& reason = checked.error().reason;
      std::string message = checked.error().message;
      if (reason == "NotFound") message = "bucket " + pipeline.spec.storage.bucket + " does not exist (set spec.storage.createBucket to let warren create it): " + message;
      if (reason == "AccessDenied") message = "the S3 server refused the credentials in Secret " + pipeline.spec.storage.credentials_secret + ": " + message;
      return Condition{"", "False", reason == "NotFound" ? "BucketMissing" : reasonOf(checked.error(), "S3Error"), message};
    }
    if (*checked) events_->record(*object, "Normal", "BucketCreated", "created bucket " + pipeline.spec.storage.bucket);
    return Condition{"", "True", "BucketReachable", "bucket " + pipeline.spec.storage.bucket + " at " + pipeline.spec.storage.endpoint};
  });

  report(inputs.database_problem, "DatabaseReady", [&] {
    auto checked = backends_->checkDatabase(inputs.endpoints.database_uri, pipeline.ledgerSchema());
    if (!checked) return Condition{"", "False", reasonOf(checked.error(), "DatabaseUnavailable"), checked.error().message};
    status["ledger"] = {{"schemaVersion", checked->schema_version},
                        {"objectsOutstanding", checked->stats.outstanding},
                        {"bytesOutstanding", checked->stats.outstanding_bytes},
                        {"objectsDeleted", checked->stats.deleted},
                        {"expiredReported", checked->stats.expired_reported},
                        {"orphansReported", checked->stats.orphans_found},
                        {"orphansDeleted", checked->stats.orphans_deleted}};
    return Condition{"", "True", "LedgerReady",
                     "schema " + pipeline.ledgerSchema() + " at version " + std::to_string(checked->schema_version)};
  });

  report(inputs.topology_problem, "TopologyReady", [&] {
    auto declared = backends_->ensureTopology(inputs.management, topology, pipeline.spec.recipients);
    if (!declared) return Condition{"", "False", reasonOf(declared.error(), "BrokerRefused"), declared.error().message};
    if (!declared->created.empty()) {
      events_->record(*object, "Normal", "TopologyDeclared", "declared " + std::to_string(declared->created.size()) +
                                                                 " objects on " + inputs.cluster_host);
    }
    for (const auto& queue : declared->unbound) {
      events_->record(*object, "Normal", "RecipientUnbound",
                      "unbound " + queue + " from " + topology.pointerExchange() + "; the queue keeps the pointers it holds");
    }
    status["boundRecipients"] = pipeline.spec.recipients;
    return Condition{"", "True", "Declared",
                     std::to_string(pipeline.spec.recipients.size()) + " recipient queues bound to " + topology.pointerExchange()};
  });

  // The coordinator and the binding Secret need every input, not every dependency up: the coordinator
  // itself waits for what is down.
  auto finish = [&](const Condition& coordinator) -> runtime::ReconcileOutcome {
    draft.setCondition(coordinator);
    Condition ready{"Ready", "True", "PipelineReady", "storage, database, topology and coordinator are ready"};
    for (const auto& [type, reason] : {std::pair<const char*, const char*>{"StorageReady", "StorageNotReady"},
                                       {"DatabaseReady", "DatabaseNotReady"},
                                       {"TopologyReady", "TopologyNotReady"},
                                       {"CoordinatorAvailable", "CoordinatorUnavailable"}}) {
      const json* condition = runtime::findCondition(status["conditions"], type);
      if (condition != nullptr && condition->value("status", "") != "True") {
        ready = {"Ready", "False", reason,
                 condition->value("reason", std::string()) + ": " + condition->value("message", std::string())};
        break;
      }
    }
    draft.setCondition(ready);
    if (auto written = draft.write(*client_, api::offloadPipelines(), api::kFieldManager); !written) return written.error();
    runtime::ReconcileResult result;
    result.requeue_after = dependency_down ? settings_.dependency_retry : settings_.recheck;
    return result;
  };
  if (inputs.storage_problem || inputs.database_problem || inputs.topology_problem) {
    return finish({"CoordinatorAvailable", "False", "WaitingForInputs",
                   "the coordinator's config needs the Secrets named above"});
  }
  auto notOwned = [&](const Error& error) {
    dependency_down = true;
    return finish({"CoordinatorAvailable", "False", "NotOwned", error.message});
  };
  const json config = builders::buildCoordinatorConfigSecret(*object, pipeline, inputs.endpoints);
  for (const json& secret : {config, builders::buildBindingSecret(*object, pipeline, inputs.endpoints)}) {
    if (auto written = runtime::createOrUpdateData(*client_, *client_, kube::resources::secrets(), secret, api::kFieldManager);
        !written) {
      if (written.error().isNotOwned()) return notOwned(written.error());
      return written.error();
    }
  }
  status["bindingSecretName"] = pipeline.bindingSecretName();
  const std::string image = pipeline.spec.coordinator.image.empty() ? settings_.default_image : pipeline.spec.coordinator.image;
  const json desired = builders::buildCoordinatorDeployment(*object, pipeline, image, kube::sha256Hex(config["data"].dump()));
  const runtime::ObjectPtr live = deployments_->store().get(runtime::objectKey(request.ns, pipeline.coordinatorName()));
  if (auto applied = runtime::applyOwned(*client_, *client_, kube::resources::deployments(), request.ns, live.get(), desired,
                                         api::kFieldManager);
      !applied) {
    if (applied.error().isNotOwned()) return notOwned(applied.error());
    if (applied.error().isRejectedContent()) {
      return finish({"CoordinatorAvailable", "False", "ChildRejected",
                     "Deployment " + pipeline.coordinatorName() + " was rejected: " + applied.error().message});
    }
    return applied.error();
  }
  const int wanted = pipeline.spec.coordinator.replicas;
  long long available = 0;
  if (live) {
    const json* count = live->contains("/status/availableReplicas"_json_pointer) ? &(*live)["status"]["availableReplicas"] : nullptr;
    if (count != nullptr && count->is_number_integer()) available = count->get<long long>();
  }
  status["coordinatorReplicas"] = available;
  if (wanted == 0) return finish({"CoordinatorAvailable", "False", "ScaledToZero", "spec.coordinator.replicas is 0: nothing deletes objects"});
  if (available == 0) {
    return finish({"CoordinatorAvailable", "False", "NoReplicaAvailable",
                   "Deployment " + pipeline.coordinatorName() + " has no available replica yet"});
  }
  return finish({"CoordinatorAvailable", "True", "Available",
                 std::to_string(available) + " of " + std::to_string(wanted) + " coordinators available"});
}

runtime::ReconcileOutcome OffloadPipelineReconciler::finalize(const json& object) {
  auto parsed = api::parseOffloadPipeline(object);
  if (parsed) {
    const api::OffloadPipeline& pipeline = *parsed;
    Inputs inputs = readInputs(pipeline);
    const offload::Topology topology(pipeline.topologyName());
    std::vector<std::string> left;
    if (inputs.topology_problem) {
      left.push_back("the topology (" + inputs.topology_problem->message + ")");
    } else if (auto removed = backends_->removeTopology(inputs.management, topology); !removed) {
      left.push_back("the topology on " + inputs.cluster_host + " (" + removed.error().message + ")");
    }
    if (pipeline.spec.deletion_policy == api::DeletionPolicy::kDelete) {
      if (inputs.storage_problem) {
        left.push_back("the stored objects (" + inputs.storage_problem->message + ")");
      } else if (auto removed = backends_->removeObjects(inputs.s3, pipeline.spec.storage.bucket, pipeline.topologyName() + "/");
                 !removed) {
        left.push_back("the stored objects (" + removed.error().message + ")");
      }
      if (inputs.database_problem) {
        left.push_back("the ledger (" + inputs.database_problem->message + ")");
      } else if (auto dropped = backends_->dropLedger(inputs.endpoints.database_uri, pipeline.ledgerSchema()); !dropped) {
        left.push_back("the ledger schema " + pipeline.ledgerSchema() + " (" + dropped.error().message + ")");
      }
    }
    for (const auto& what : left) {
      events_->record(object, "Warning", "CleanupIncomplete", "deleted without removing " + what + "; remove it by hand");
    }
  } else {
    events_->record(object, "Warning", "CleanupIncomplete",
                    "deleted without cleanup: the spec is invalid (" + parsed.error().message + ")");
  }
  if (auto removed = runtime::removeFinalizer(*client_, api::offloadPipelines(), object, api::kOffloadFinalizer);
      !removed && !removed.error().isNotFound()) {
    return removed.error();
  }
  return runtime::ReconcileResult{};
}

void addOffloadPipelineController(runtime::Manager& manager, const std::string& ns, int workers,
                                  std::shared_ptr<OffloadBackends> backends, OffloadPipelineSettings settings) {
  runtime::InformerOptions pipeline_options{api::offloadPipelines(), ns, "", ""};
  pipeline_options.watcher.name = "offloadpipelines.warren.dev";
  auto pipelines = manager.addInformer(pipeline_options);
  pipelines->addIndex(kClusterIndex, [](const json& object) {
    auto pipeline = api::parseOffloadPipeline(object);
    if (!pipeline) return std::vector<std::string>{};
    return std::vector<std::string>{runtime::objectKey(pipeline->clusterNamespace(), pipeline->spec.cluster_name)};
  });
  runtime::InformerOptions cluster_options{api::brokerClusters(), ns, "", ""};
  auto clusters = manager.addInformer(cluster_options);
  runtime::InformerOptions deployment_options{kube::resources::deployments(), ns, builders::kOffloadPipelineLabel, ""};
  deployment_options.watcher.name = "deployments.apps(offload)";
  auto deployments = manager.addInformer(deployment_options);
  auto secrets = addWarrenSecretsInformer(manager, ns);
  auto events = std::make_shared<runtime::EventRecorder>(manager.client(), "warren-operator", runtime::EventDelivery::kBackground);
  auto reconciler = std::make_shared<OffloadPipelineReconciler>(manager.client(), pipelines, clusters, deployments,
                                                                std::move(backends), events, std::move(settings));
  runtime::ControllerOptions options;
  options.name = "offloadpipeline";
  options.max_concurrent_reconciles = workers;
  auto controller = std::make_shared<runtime::Controller>(options, reconciler);
  controller->watchPrimary(*pipelines);
  controller->watchOwned(*deployments, api::kGroup, "OffloadPipeline");
  controller->watchOwned(*secrets, api::kGroup, "OffloadPipeline");  // config and binding Secrets
  auto pipelinesOf = [pipelines](const std::string& cluster_key) {
    std::vector<runtime::Request> requests;
    for (const auto& pipeline : pipelines->store().byIndex(kClusterIndex, cluster_key)) {
      requests.push_back(runtime::Request::fromKey(runtime::objectKey(*pipeline)));
    }
    return requests;
  };
  controller->watchMapped(*clusters, [pipelinesOf](const json& cluster) { return pipelinesOf(runtime::objectKey(cluster)); });
  // The default-user Secret of a cluster (labelled with it): the pipelines of that cluster.
  controller->watchMapped(*secrets, [pipelinesOf](const json& secret) {
    const std::string cluster = clusterLabelOf(secret);
    if (cluster.empty()) return std::vector<runtime::Request>{};
    return pipelinesOf(runtime::objectKey(runtime::stringAt(secret, "/metadata/namespace"_json_pointer), cluster));
  });
  manager.addController(controller);
}

}  // namespace warren::controllers
