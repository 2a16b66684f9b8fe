#include "runtime/compact_bytes.h"

#include <zlib.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace warren::runtime {
namespace {

constexpr char kStored = 0;
constexpr char kDeflated = 1;
constexpr size_t kLengthBytes = 4;
// A 32 KB window (the dictionary can be that long) and a small hash: ~160 KB per deflate state, of
// which a pool holds as many as run at once.
constexpr int kWindowBits = 15;
constexpr size_t kMaxDictionary = size_t{1} << kWindowBits;
constexpr int kMemLevel = 6;

// Strings deflate can refer back to from the first byte of an object. The most frequent come last
// (shorter distances are cheaper codes).
constexpr std::string_view kDictionary =
    "persistentVolumeClaimRetentionPolicywhenDeletedwhenScaledpodManagementPolicyParallelrevisionHistoryLimit"
    "serviceNametemplateaffinitypodAntiAffinitypreferredDuringSchedulingIgnoredDuringExecutionpodAffinityTerm"
    "labelSelectortopologyKeykubernetes.io/hostnameweightcontainersenvvalueFromfieldReffieldPathmetadata.name"
    "terminationMessagePath/dev/termination-logterminationMessagePolicyFileimagePullPolicyIfNotPresent"
    "allowPrivilegeEscalationcapabilitiesdropALLsecurityContextvolumeMountsmountPathvolumesemptyDirsecretName"
    "defaultModeitemskeypathconfigMapresourceslimitsrequestscpumemoryreadinessProbelivenessProbeexectcpSocket"
    "initialDelaySecondsperiodSecondstimeoutSecondsfailureThresholdsuccessThresholddnsPolicyClusterFirst"
    "restartPolicyAlwaysschedulerNamedefault-schedulerterminationGracePeriodSecondsupdateStrategyRollingUpdate"
    "partitionavailableReplicascurrentReplicasupdatedReplicascurrentRevisionupdateRevisioncollisionCount"
    "clusterIPclusterIPsinternalTrafficPolicyClusteripFamiliesIPv4ipFamilyPolicySingleStacksessionAffinityNone"
    "loadBalancerClusterIPHeadlesspublishNotReadyAddressestargetPortcontainerPortprotocolTCPportsport"
    "minAvailablemaxUnavailabledisruptionsAlloweddesiredHealthycurrentHealthyexpectedPodsdisruptedPods"
    "nodeNamephaseRunningPendingcontainerStatusesdata"
    "warren.dev/v1alpha1BrokerClusterBrokerBindingCountingServiceOffloadPipelinewarren-operatorwarren"
    "app.kubernetes.io/part-ofapp.kubernetes.io/managed-byapp.kubernetes.io/nameapp.kubernetes.io/component"
    "warren.dev/clusterwarren.dev/config-checksumkubernetes.io/metadata.name"
    "apps/v1StatefulSetpolicy/v1PodDisruptionBudgetServiceConfigMapSecretPodv1Opaque"
    "lastTransitionTimereasonmessageobservedGenerationconditionsTrueFalseUnknownReadyreadyReplicasreplicas"
    "ownerReferencesblockOwnerDeletioncontrollertrueuidselectormatchLabelslabelsannotationsgeneration"
    "apiVersionkindmetadatanamenamespaceresourceVersioncreationTimestampspecstatustype";

const Bytef* asBytes(const char* data) { return reinterpret_cast<const Bytef*>(data); }

// kDictionary, then the samples a program added; fixed from the first use on.
std::mutex dictionary_mutex;
std::string* extended_dictionary = nullptr;  // never freed: in use until the process ends
std::atomic<bool> dictionary_in_use{false};

std::string_view dictionary() {
  if (!dictionary_in_use.load(std::memory_order_acquire)) {
    std::lock_guard lock(dictionary_mutex);
    dictionary_in_use.store(true, std::memory_order_release);
  }
  return extended_dictionary != nullptr ? std::string_view(*extended_dictionary) : kDictionary;
}

// zlib states are reused from a pool that grows to the number of threads packing or unpacking at the
// same moment (a few), not one per thread that ever did (~160 KB each for deflate, ~40 KB for inflate).
struct Deflater {
  z_stream stream{};
  bool ready = false;
  Deflater() { ready = deflateInit2(&stream, 1, Z_DEFLATED, kWindowBits, kMemLevel, Z_DEFAULT_STRATEGY) == Z_OK; }
  ~Deflater() {
    if (ready) deflateEnd(&stream);
  }
};

struct Inflater {
  z_stream stream{};
  bool ready = false;
  Inflater() { ready = inflateInit2(&stream, kWindowBits) == Z_OK; }
  ~Inflater() {
    if (ready) inflateEnd(&stream);
  }
};

template <typename State>
class StatePool {
 public:
  // A state for the caller alone, returned to the pool when the lease ends.
  class Lease {
   public:
    Lease(StatePool& pool, std::unique_ptr<State> state) : pool_(pool), state_(std::move(state)) {}
    ~Lease() { pool_.giveBack(std::move(state_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    State& operator*() { return *state_; }

   private:
    StatePool& pool_;
    std::unique_ptr<State> state_;
  };

  Lease take() {
    std::unique_ptr<State> state;
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        state = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    if (!state) state = std::make_unique<State>();
    return Lease(*this, std::move(state));
  }

 private:
  void giveBack(std::unique_ptr<State> state) {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(state));
  }

  std::mutex mutex_;
  std::vector<std::unique_ptr<State>> idle_;
};

StatePool<Deflater>& deflaters() {
  static auto* pool = new StatePool<Deflater>();  // never destroyed: used until the last thread ends
  return *pool;
}

StatePool<Inflater>& inflaters() {
  static auto* pool = new StatePool<Inflater>();
  return *pool;
}

std::string stored(std::string_view bytes) {
  std::string out(1, kStored);
  out.append(bytes);
  return out;
}

}  // namespace

bool extendCompactDictionary(std::string_view sample) {
  std::lock_guard lock(dictionary_mutex);
  if (dictionary_in_use.load(std::memory_order_acquire)) return false;
  std::string words = extended_dictionary != nullptr ? *extended_dictionary : std::string(kDictionary);
  words.append(sample);  // what is most like the cached objects comes last: the shortest distances
  if (words.size() > kMaxDictionary) words.erase(0, words.size() - kMaxDictionary);
  if (extended_dictionary == nullptr) extended_dictionary = new std::string();
  *extended_dictionary = std::move(words);
  return true;
}

std::string compactBytes(std::string_view bytes) {
  auto deflater_lease = deflaters().take();
  Deflater& deflater = *deflater_lease;
  if (!deflater.ready || bytes.size() > UINT32_MAX) return stored(bytes);
  z_stream& z = deflater.stream;
  const std::string_view words = dictionary();
  if (deflateReset(&z) != Z_OK ||
      deflateSetDictionary(&z, asBytes(words.data()), static_cast<uInt>(words.size())) != Z_OK) {
    return stored(bytes);
  }
  std::string out(1 + kLengthBytes + deflateBound(&z, bytes.size()), '\0');
  out[0] = kDeflated;
  const auto length = static_cast<std::uint32_t>(bytes.size());
  for (size_t i = 0; i < kLengthBytes; ++i) out[1 + i] = static_cast<char>((length >> (8 * i)) & 0xff);
  z.next_in = const_cast<Bytef*>(asBytes(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data() + 1 + kLengthBytes);
  z.avail_out = static_cast<uInt>(out.size() - 1 - kLengthBytes);
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) return stored(bytes);
  out.resize(out.size() - z.avail_out);
  if (out.size() >= bytes.size() + 1) return stored(bytes);
  out.shrink_to_fit();
  return out;
}

std::string expandBytes(std::string_view compact) {
  if (compact.empty()) throw std::runtime_error("compact bytes: empty");
  if (compact[0] == kStored) return std::string(compact.substr(1));
  if (compact[0] != kDeflated || compact.size() < 1 + kLengthBytes) throw std::runtime_error("compact bytes: bad tag");
  std::uint32_t length = 0;
  for (size_t i = 0; i < kLengthBytes; ++i) {
    length |= static_cast<std::uint32_t>(static_cast<unsigned char>(compact[1 + i])) << (8 * i);
  }
  auto inflater_lease = inflaters().take();
  Inflater& inflater = *inflater_lease;
  if (!inflater.ready) throw std::runtime_error("compact bytes: zlib unavailable");
  z_stream& z = inflater.stream;
  if (inflateReset(&z) != Z_OK) throw std::runtime_error("compact bytes: zlib reset failed");
  std::string out(length, '\0');
  z.next_in = const_cast<Bytef*>(asBytes(compact.data() + 1 + kLengthBytes));
  z.avail_in = static_cast<uInt>(compact.size() - 1 - kLengthBytes);
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = length;
  int result = inflate(&z, Z_FINISH);
  if (result == Z_NEED_DICT) {
    const std::string_view words = dictionary();
    if (inflateSetDictionary(&z, asBytes(words.data()), static_cast<uInt>(words.size())) != Z_OK) {
      throw std::runtime_error("compact bytes: dictionary refused");
    }
    result = inflate(&z, Z_FINISH);
  }
  if (result != Z_STREAM_END || z.avail_out != 0) throw std::runtime_error("compact bytes: corrupt stream");
  return out;
}

std::string compactObject(const nlohmann::json& object) {
  const std::vector<std::uint8_t> bytes = nlohmann::json::to_msgpack(object);
  return compactBytes(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

nlohmann::json expandObject(std::string_view compact) { return nlohmann::json::from_msgpack(expandBytes(compact)); }

}  // namespace warren::runtime
