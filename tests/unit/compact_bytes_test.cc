// compactBytes/expandBytes: every buffer comes back byte for byte, a typical
// cached object shrinks to under half, and foreign bytes are an error.
#include "runtime/compact_bytes.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>

namespace warren::runtime {
namespace {

std::string typicalService(int i) {
  const std::string name = "c" + std::to_string(i);
  const nlohmann::json service = {
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata",
       {{"name", name},
        {"namespace", "bench"},
        {"uid", "dc7c2944-bccf-4957-bc6d-2006" + std::to_string(100000000 + i)},
        {"resourceVersion", std::to_string(18849 + i)},
        {"creationTimestamp", "2026-12-03T12:55:44Z"},
        {"labels", {{"app.kubernetes.io/name", name}, {"app.kubernetes.io/part-of", "warren"},
                    {"app.kubernetes.io/managed-by", "warren-operator"}, {"warren.dev/cluster", name}}},
        {"ownerReferences", {{{"apiVersion", "warren.dev/v1alpha1"}, {"kind", "BrokerCluster"}, {"name", name},
                              {"uid", "299252af-1285-45f1-a6ab-97b5e74d5302"}, {"controller", true},
                              {"blockOwnerDeletion", true}}}}}},
      {"spec",
       {{"type", "ClusterIP"},
        {"selector", {{"app.kubernetes.io/name", name}}},
        {"ports", {{{"name", "amqp"}, {"port", 5672}, {"protocol", "TCP"}, {"targetPort", 5672}},
                   {{"name", "management"}, {"port", 15672}, {"protocol", "TCP"}, {"targetPort", 15672}}}}}},
      {"status", {{"loadBalancer", nlohmann::json::object()}}}};
  const auto packed = nlohmann::json::to_msgpack(service);
  return std::string(packed.begin(), packed.end());
}

TEST(CompactBytesTest, RoundTripsEmptySmallTypicalAndRandomBuffers) {
  std::mt19937 random(7);
  std::string noise(5000, '\0');
  for (auto& c : noise) c = static_cast<char>(random());
  for (const std::string& bytes : {std::string(), std::string("x"), typicalService(1), noise,
                                   std::string(100000, 'a'), std::string("\0\1\2", 3)}) {
    EXPECT_EQ(expandBytes(compactBytes(bytes)), bytes);
  }
}

TEST(CompactBytesTest, TypicalObjectShrinksAndNoiseGrowsByOneByte) {
  const std::string service = typicalService(42);
  EXPECT_LT(compactBytes(service).size() * 2, service.size());
  std::mt19937 random(3);
  std::string noise(2000, '\0');
  for (auto& c : noise) c = static_cast<char>(random());
  EXPECT_EQ(compactBytes(noise).size(), noise.size() + 1);
}

TEST(CompactBytesTest, TheDictionaryIsFixedOnceInUse) {
  // Earlier tests of this binary compacted already: the dictionary may no longer change under them.
  const std::string before = compactBytes(typicalService(9));
  EXPECT_FALSE(extendCompactDictionary(typicalService(9)));
  EXPECT_EQ(compactBytes(typicalService(9)), before);
  EXPECT_EQ(expandBytes(before), typicalService(9));
}

TEST(CompactBytesTest, ForeignOrTruncatedBytesAreAnError) {
  EXPECT_THROW(expandBytes(""), std::runtime_error);
  EXPECT_THROW(expandBytes("\x07whatever"), std::runtime_error);
  std::string compact = compactBytes(typicalService(5));
  ASSERT_EQ(compact[0], 1);
  EXPECT_THROW(expandBytes(compact.substr(0, compact.size() / 2)), std::runtime_error);
}

}  // namespace
}  // namespace warren::runtime
