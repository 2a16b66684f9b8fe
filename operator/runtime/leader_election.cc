#include "runtime/leader_election.h"

#include "common/log.h"
#include "runtime/metrics.h"
#include "runtime/object_helpers.h"

namespace warren::runtime {
namespace {

metrics::Gauge& leaderGauge(const std::string& lease) {
  return metrics::registry()
      .gauge("leader_election_master_status", "1 while this process holds the leader lease.", {"name"})
      .with({lease});
}

}  // namespace

LeaderElector::LeaderElector(std::shared_ptr<kube::Client> client, LeaderElectionConfig config)
    : client_(config.client ? config.client : std::move(client)), config_(std::move(config)) {}

bool LeaderElector::holdsLease(clock::time_point now) const {
  if (!leading_.load()) return false;
  const clock::time_point renewed{clock::duration(renewed_at_.load())};
  return now < renewed + config_.renew_deadline;
}

nlohmann::json LeaderElector::leaseSpec(bool acquiring, int transitions) const {
  const std::string now = formatMicroTime(std::chrono::system_clock::now());
  nlohmann::json spec = {
      {"holderIdentity", config_.identity},
      {"leaseDurationSeconds",
       std::chrono::duration_cast<std::chrono::seconds>(config_.lease_duration).count()},
      {"renewTime", now},
      {"leaseTransitions", transitions}};
  if (acquiring) {
    spec["acquireTime"] = now;
  } else if (observed_spec_.contains("acquireTime")) {
    spec["acquireTime"] = observed_spec_["acquireTime"];
  }
  return spec;
}

bool LeaderElector::tryAcquireOrRenew(clock::time_point now) {
  const auto& leases = kube::resources::leases();
  auto current = client_->get(leases, config_.lease_namespace, config_.lease_name);
  if (!current) {
    if (!current.error().isNotFound()) {
      log::warn("cannot read leader lease", {log::Field("error", current.error().describe())});
      return false;
    }
    nlohmann::json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                            {"kind", "Lease"},
                            {"metadata", {{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
                            {"spec", leaseSpec(true, 0)}};
    auto created = client_->create(leases, config_.lease_namespace, lease, {});
    if (!created) return false;
    observed_spec_ = (*created)["spec"];
    observed_resource_version_ = (*created)["metadata"].value("resourceVersion", "");
    observed_at_ = now;
    return true;
  }
  const nlohmann::json spec = current->value("spec", nlohmann::json::object());
  // Note when the record last changed, on our own clock.
  if (spec != observed_spec_) {
    observed_spec_ = spec;
    observed_at_ = now;
  }
  observed_resource_version_ = (*current)["metadata"].value("resourceVersion", "");
  const std::string holder = spec.value("holderIdentity", "");
  const bool ours = holder == config_.identity;
  const auto duration = std::chrono::seconds(spec.value("leaseDurationSeconds", 15));
  const bool expired = now >= observed_at_ + duration;
  if (!holder.empty() && !ours && !expired) return false;

  const int transitions = spec.value("leaseTransitions", 0) + (ours ? 0 : 1);
  nlohmann::json updated = *current;
  updated["spec"] = leaseSpec(!ours, transitions);
  auto written = client_->update(leases, config_.lease_namespace, updated, {});
  if (!written) return false;  // a Conflict means someone else got there first
  observed_spec_ = (*written)["spec"];
  observed_resource_version_ = (*written)["metadata"].value("resourceVersion", "");
  observed_at_ = now;
  return true;
}

void LeaderElector::release() {
  auto current = client_->get(kube::resources::leases(), config_.lease_namespace, config_.lease_name);
  if (!current || (*current)["spec"].value("holderIdentity", "") != config_.identity) return;
  nlohmann::json updated = *current;
  updated["spec"]["holderIdentity"] = "";
  updated["spec"]["leaseDurationSeconds"] = 1;
  updated["spec"]["renewTime"] = formatMicroTime(std::chrono::system_clock::now());
  auto written = client_->update(kube::resources::leases(), config_.lease_namespace, updated, {});
  if (written) {
    log::info("leader lease released", {log::Field("lease", config_.lease_name)});
  } else {
    log::warn("cannot release leader lease", {log::Field("error", written.error().describe())});
  }
}

bool LeaderElector::run(kube::Cancellation& cancel, const std::function<void()>& on_started,
                        const std::function<void(bool lost)>& on_stopped) {
  auto sleep = [&cancel](std::chrono::milliseconds delay) { cancel.waitFor(delay); };
  auto& gauge = leaderGauge(config_.lease_name);
  log::info("campaigning for leadership",
            {log::Field("lease", config_.lease_namespace + "/" + config_.lease_name),
             log::Field("identity", config_.identity)});
  // The attempt's start is what counts: the lease was valid from before the request was sent.
  auto attempt = [this] {
    const auto started = clock::now();
    const bool held = tryAcquireOrRenew(started);
    if (held) renewed_at_ = started.time_since_epoch().count();
    return held;
  };
  while (!cancel.cancelled() && !attempt()) sleep(config_.retry_period);
  if (cancel.cancelled()) return true;
  leading_ = true;
  gauge.set(1);
  log::info("became leader", {log::Field("identity", config_.identity)});
  on_started();

  bool lost = false;
  while (!cancel.cancelled()) {
    sleep(config_.retry_period);
    if (cancel.cancelled()) break;
    // Also after a pause long enough that the lease may be someone else's: give up without asking.
    if (!holdsLease() || (!attempt() && !holdsLease())) {
      lost = true;
      break;
    }
  }
  leading_ = false;
  gauge.set(0);
  if (lost) {
    log::error("leadership lost: lease not renewed within the renew deadline",
               {log::Field("identity", config_.identity)});
  }
  // Stop the controllers before releasing, so a successor never overlaps.
  on_stopped(lost);
  if (!lost) release();
  return !lost;
}

}  // namespace warren::runtime
