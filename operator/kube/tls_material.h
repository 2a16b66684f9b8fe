// PEM and base64 helpers for TLS material held in memory (kubeconfig
// *-data fields, mounted CA bundles). Material is parsed with OpenSSL so a
// bad certificate or key is reported when the config is loaded, not on the
// first connection, and no temporary files are ever written.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/result.h"

namespace warren::kube {

struct X509Deleter { void operator()(X509* cert) const { X509_free(cert); } };
struct PkeyDeleter { void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); } };
using X509Ptr = std::shared_ptr<X509>;
using PkeyPtr = std::shared_ptr<EVP_PKEY>;

// Strict standard base64 (RFC 4648, padding optional, whitespace ignored).
Result<std::string> base64Decode(std::string_view text);
std::string base64Encode(std::string_view bytes);

// Every certificate of a PEM bundle; an error when there is none or one is
// malformed.
Result<std::vector<X509Ptr>> parseCertificates(std::string_view pem);
// A PEM private key (PKCS#1, PKCS#8 or SEC1).
Result<PkeyPtr> parsePrivateKey(std::string_view pem);

// Lower-case hex SHA-256 of `data` (config checksums).
std::string sha256Hex(std::string_view data);

// Reads a whole file; the error names the path.
Result<std::string> readFile(const std::string& path);

}  // namespace warren::kube
