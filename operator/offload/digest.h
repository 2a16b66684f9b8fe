// Sha256: an incremental SHA-256 (OpenSSL EVP) for payloads that pass
// through in pieces, so a hash never needs the whole payload in memory
// (kube::sha256Hex hashes a string held whole).
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace warren::offload {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view bytes);
  // Lowercase hex of everything passed to update(); starts a new hash afterwards.
  std::string finishHex();
  void reset();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

}  // namespace warren::offload
