// S3Client: the S3 operations the offload pipeline needs, path-style, over
// libcurl with its built-in SigV4 signing. Payloads stream in both
// directions: an upload holds at most one part in memory (a single PUT up
// to `part_size`, multipart above it), a download hands each piece to a
// sink as it arrives. Requests are retried with backoff on 5xx, 429 and
// connection failures; a single PUT carries `If-None-Match: *`, so a retried
// upload never overwrites (a retry that finds its own bytes there succeeds).
// Not thread-safe: one client per thread (it reuses one connection).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "offload/s3_request.h"

namespace warren::offload {

struct S3Config {
  std::string endpoint;  // "http://127.0.0.1:7070" or "https://s3.example.com"
  std::string region = "us-east-1";
  std::string access_key;
  std::string secret_key;
  std::string ca_file;  // PEM bundle for https; empty: the system's
  std::string ca_pem;   // the bundle itself (from a Secret); wins over ca_file
  size_t part_size = 8 * 1024 * 1024;  // S3 needs >= 5 MiB for every part but the last
  std::chrono::milliseconds connect_timeout{5000};
  // A transfer slower than 1 KiB/s for this long is abandoned (and retried).
  std::chrono::seconds stall_timeout{30};
  int max_attempts = 5;
  std::chrono::milliseconds first_retry_delay{200};
};

// Fills `buffer` with up to `capacity` next bytes; 0 means the end.
using PayloadReader = std::function<Result<size_t>(char* buffer, size_t capacity)>;

// Receives a download piece by piece; `restart` is called before a retry
// sends the bytes again from the start.
struct PayloadSink {
  std::function<Status(std::string_view)> write;
  std::function<void()> restart;
};

struct UploadResult {
  uint64_t size = 0;
  std::string sha256;  // of the bytes uploaded
  int parts = 0;       // 0 for a single PUT
};

struct ObjectHead {
  uint64_t size = 0;
  std::string etag;
  std::string sha256;  // the x-amz-meta-sha256 warren stores on single PUTs, else empty
};

class S3Client {
 public:
  // Error reason "InvalidConfig" naming the field.
  static Result<std::unique_ptr<S3Client>> create(S3Config config);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  const S3Config& config() const { return config_; }

  // Ok when the bucket exists and these credentials may use it.
  Status headBucket(const std::string& bucket);
  // Creates the bucket; an existing bucket of ours is no error.
  Status createBucket(const std::string& bucket);

  Result<UploadResult> upload(const std::string& bucket, const std::string& key, const PayloadReader& reader,
                              const std::string& content_type);
  Result<ObjectHead> head(const std::string& bucket, const std::string& key);
  // Error reason "NotFound" when there is no such object.
  Status download(const std::string& bucket, const std::string& key, const PayloadSink& sink);
  // Deleting an absent object is no error (S3 answers 204 either way).
  Status remove(const std::string& bucket, const std::string& key);
  Result<s3::ListPage> list(const std::string& bucket, const std::string& prefix,
                            const std::string& continuation_token = "");
  // Multipart uploads under `prefix` begun and never completed (a producer
  // that died mid-upload), which a plain listing does not show.
  Result<s3::PendingUploadsPage> listPendingUploads(const std::string& bucket, const std::string& prefix,
                                                    const std::string& key_marker = "",
                                                    const std::string& upload_id_marker = "");
  Status abortMultipart(const std::string& bucket, const std::string& key, const std::string& upload_id);

 private:
  struct Request;
  struct Response;
  explicit S3Client(S3Config config);
  Result<Response> perform(const Request& request);
  Result<Response> performWithRetries(const Request& request);

  S3Config config_;
  void* curl_ = nullptr;  // CURL*
};

}  // namespace warren::offload
