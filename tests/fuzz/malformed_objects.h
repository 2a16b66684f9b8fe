// A seeded, reproducible generator of malformed custom resources for the
// fuzz campaign: each object is a valid base of its kind with one mutation
// (a field removed, set to null, to the wrong type, to a huge or unicode
// value, to a deeply nested value, or to a CEL/schema edge value). The
// mutation's path says which field the API server or the operator should
// name when it reports the object.
#pragma once

#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace warren::fuzz {

struct Malformed {
  nlohmann::json object;
  std::string kind;         // BrokerCluster, BrokerBinding, CountingService, OffloadPipeline
  std::string path;         // dotted, as API errors write it: "spec.targets[0].name"
  std::string mutation;     // what was done, for the report
};

class MalformedObjects {
 public:
  explicit MalformedObjects(unsigned seed) : rng_(seed) {}
  // `count` objects of `kind`, named <prefix>-<n>.
  std::vector<Malformed> generate(const std::string& kind, int count, const std::string& prefix);

 private:
  nlohmann::json base(const std::string& kind, const std::string& name);
  nlohmann::json wildValue(int depth);
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  std::mt19937 rng_;
};

}  // namespace warren::fuzz
