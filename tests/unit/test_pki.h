// Test-only PKI: mints an EC key and a self-signed certificate in memory, so
// no key material is committed to the repository.
#pragma once

#include <string>

namespace warren::testing {

struct TestCert {
  std::string cert_pem;
  std::string key_pem;
};

// A fresh self-signed certificate for `common_name`.
TestCert makeSelfSignedCert(const std::string& common_name);

}  // namespace warren::testing
