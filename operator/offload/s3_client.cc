#include "offload/s3_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "common/backoff.h"
#include "kube/tls_material.h"
#include "offload/digest.h"

namespace warren::offload {
namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;
constexpr size_t kMinPartSize = 5 * 1024 * 1024;
const std::string kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

void initCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

bool transientCurlError(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_WRITE_ERROR:  // only when our sink failed, which the caller sees separately
      return true;
    default:
      return false;
  }
}

bool transientStatus(long status) { return status == 429 || status >= 500; }

}  // namespace

struct S3Client::Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;
  std::string_view body;               // PUT and POST bodies
  const PayloadSink* sink = nullptr;   // GET into a sink; else the body is kept in Response
  std::string what;                    // "PUT bucket/key", for errors
};

struct S3Client::Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
};

S3Client::S3Client(S3Config config) : config_(std::move(config)) {}

S3Client::~S3Client() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Result<std::unique_ptr<S3Client>> S3Client::create(S3Config config) {
  if (config.endpoint.rfind("http://", 0) != 0 && config.endpoint.rfind("https://", 0) != 0) {
    return Error::local("InvalidConfig", "s3 endpoint: must start with http:// or https://, got '" + config.endpoint + "'");
  }
  if (config.region.empty()) return Error::local("InvalidConfig", "s3 region: must not be empty");
  if (config.access_key.empty()) return Error::local("InvalidConfig", "s3 access key: must not be empty");
  if (config.secret_key.empty()) return Error::local("InvalidConfig", "s3 secret key: must not be empty");
  if (config.part_size < kMinPartSize) {
    return Error::local("InvalidConfig", "s3 part size: must be at least 5 MiB (S3's smallest part)");
  }
  if (config.max_attempts < 1) config.max_attempts = 1;
  initCurlOnce();
  std::unique_ptr<S3Client> client(new S3Client(std::move(config)));
  client->curl_ = curl_easy_init();
  if (client->curl_ == nullptr) return Error::local("S3Error", "curl_easy_init failed");
  return client;
}

Result<S3Client::Response> S3Client::perform(const Request& request) {
  CURL* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);
  Response response;
  struct Transfer {
    const Request* request;
    Response* response;
    CURL* curl;
    std::string_view remaining;
    Status sink_status = okStatus();
  } transfer{&request, &response, curl, request.body, okStatus()};

  const std::string sigv4 = "aws:amz:" + config_.region + ":s3";
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(curl, CURLOPT_USERNAME, config_.access_key.c_str());
  curl_easy_setopt(curl, CURLOPT_PASSWORD, config_.secret_key.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(config_.stall_timeout.count()));
  if (!config_.ca_pem.empty()) {
    curl_blob blob{const_cast<char*>(config_.ca_pem.data()), config_.ca_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
  } else if (!config_.ca_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, config_.ca_file.c_str());
  }

  // libcurl 7.88 signs x-amz-content-sha256 but does not add it: S3 servers
  // refuse a request without it. Bodies are in memory, so sign their hash.
  curl_slist* headers = nullptr;
  const std::string content_sha = "x-amz-content-sha256: " + (request.body.empty() ? kEmptySha256 : kube::sha256Hex(request.body));
  headers = curl_slist_append(headers, content_sha.c_str());
  for (const auto& header : request.headers) headers = curl_slist_append(headers, header.c_str());

  if (request.method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
    curl_easy_setopt(curl, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, +[](char* buffer, size_t size, size_t count, void* data) -> size_t {
      auto* t = static_cast<Transfer*>(data);
      const size_t n = std::min(size * count, t->remaining.size());
      std::copy_n(t->remaining.data(), n, buffer);
      t->remaining.remove_prefix(n);
      return n;
    });
  } else if (request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    headers = curl_slist_append(headers, "Content-Type: application/xml");
  } else if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, +[](char* buffer, size_t size, size_t count, void* data) -> size_t {
    auto* t = static_cast<Transfer*>(data);
    const std::string line(buffer, size * count);
    if (line.rfind("HTTP/", 0) == 0) t->response->headers.clear();  // a new response (after a redirect or 100)
    if (const auto colon = line.find(':'); colon != std::string::npos) {
      t->response->headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
    }
    return size * count;
  });
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, +[](char* buffer, size_t size, size_t count, void* data) -> size_t {
    auto* t = static_cast<Transfer*>(data);
    const size_t n = size * count;
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    if (t->request->sink != nullptr && status >= 200 && status < 300) {
      t->sink_status = t->request->sink->write(std::string_view(buffer, n));
      return t->sink_status ? n : 0;  // 0 aborts the transfer
    }
    if (t->response->body.size() < kMaxErrorBody || status < 300) t->response->body.append(buffer, n);
    return n;
  });

  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (!transfer.sink_status) return transfer.sink_status.error();
  if (code != CURLE_OK) {
    Error error = Error::local(transientCurlError(code) ? "S3Unreachable" : "S3Error",
                               request.what + ": " + curl_easy_strerror(code));
    error.terminal = !transientCurlError(code);
    return error;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

Result<S3Client::Response> S3Client::performWithRetries(const Request& request) {
  Backoff backoff({config_.first_retry_delay, std::chrono::milliseconds(5000), 2.0, 0.5, std::chrono::minutes(10)});
  for (int attempt = 1;; ++attempt) {
    if (attempt > 1 && request.sink != nullptr && request.sink->restart) request.sink->restart();
    auto response = perform(request);
    const bool retry = response ? transientStatus(response->status) : !response.error().terminal;
    if (!retry || attempt >= config_.max_attempts) return response;
    std::this_thread::sleep_for(backoff.next());
  }
}

namespace {

// The error for a non-2xx answer, named by S3's own code when it sent one.
Error statusError(const std::string& what, long status, const std::string& body) {
  std::string detail = s3::parseErrorDocument(body).value_or("HTTP " + std::to_string(status));
  std::string reason = "S3Error";
  if (status == 404) reason = "NotFound";
  if (status == 403) reason = "AccessDenied";
  if (status == 412) reason = "PreconditionFailed";
  Error error{static_cast<int>(status), reason, what + ": " + detail};
  error.terminal = !transientStatus(status);
  return error;
}

}  // namespace

Status S3Client::headBucket(const std::string& bucket) {
  Request request{"HEAD", s3::objectUrl(config_.endpoint, bucket, ""), {}, {}, nullptr, "HEAD bucket " + bucket};
  auto response = performWithRetries(request);
  if (!response) return response.error();
  if (response->status >= 300) return statusError(request.what, response->status, response->body);
  return okStatus();
}

Status S3Client::createBucket(const std::string& bucket) {
  Request request{"PUT", s3::objectUrl(config_.endpoint, bucket, ""), {}, {}, nullptr, "create bucket " + bucket};
  auto response = performWithRetries(request);
  if (!response) return response.error();
  if (response->status == 409 && response->body.find("BucketAlreadyOwnedByYou") != std::string::npos) return okStatus();
  if (response->status >= 300) return statusError(request.what, response->status, response->body);
  return okStatus();
}

Result<ObjectHead> S3Client::head(const std::string& bucket, const std::string& key) {
  Request request{"HEAD", s3::objectUrl(config_.endpoint, bucket, key), {}, {}, nullptr, "HEAD " + bucket + "/" + key};
  auto response = performWithRetries(request);
  if (!response) return response.error();
  if (response->status >= 300) return statusError(request.what, response->status, response->body);
  ObjectHead head;
  head.size = std::strtoull(response->headers["content-length"].c_str(), nullptr, 10);
  head.etag = response->headers["etag"];
  head.sha256 = response->headers["x-amz-meta-sha256"];
  return head;
}

Status S3Client::download(const std::string& bucket, const std::string& key, const PayloadSink& sink) {
  Request request{"GET", s3::objectUrl(config_.endpoint, bucket, key), {}, {}, &sink, "GET " + bucket + "/" + key};
  auto response = performWithRetries(request);
  if (!response) return response.error();
  if (response->status >= 300) return statusError(request.what, response->status, response->body);
  return okStatus();
}

Status S3Client::remove(const std::string& bucket, const std::string& key) {
  Request request{"DELETE", s3::objectUrl(config_.endpoint, bucket, key), {}, {}, nullptr, "DELETE " + bucket + "/" + key};
  auto response = performWithRetries(request);
  if (!response) return response.error();
  if (response->status >= 300 && response->status != 404) return statusError(request.what, response->status, response->body);
  return okStatus();
}

Result<s3::ListPage> S3Client::list(const std::string& bucket, const std::string& prefix,
                                    const std::string& continuation_token) {
  std::map<std::string, std::string> parameters{{"list-type", "2"}, {"prefix", prefix}};
  if (!continuation_token.empty()) parameters["continuation-token"] = continuation_token;
  Request request{"GET", s3::objectUrl(config_.endpoint, bucket, "", parameters), {}, {}, nullptr, "LIST " + bucket};
  auto response = performWithRetries(request);
  if (!response) return response.error();
  if (response->status >= 300) return statusError(request.what, response->status, response->body);
  return s3::parseListPage(response->body);
}

Result<s3::PendingUploadsPage> S3Client::listPendingUploads(const std::string& bucket, const std::string& prefix,
                                                           const std::string& key_marker,
                                                           const std::string& upload_id_marker) {
  std::map<std::string, std::string> parameters{{"prefix", prefix}, {"uploads", ""}};
  if (!key_marker.empty()) parameters["key-marker"] = key_marker;
  if (!upload_id_marker.empty()) parameters["upload-id-marker"] = upload_id_marker;
  Request request{"GET", s3::objectUrl(config_.endpoint, bucket, "", parameters), {}, {}, nullptr,
                  "list multipart uploads " + bucket};
  auto response = performWithRetries(request);
  if (!response) return response.error();
  if (response->status >= 300) return statusError(request.what, response->status, response->body);
  return s3::parsePendingUploads(response->body);
}

Status S3Client::abortMultipart(const std::string& bucket, const std::string& key, const std::string& upload_id) {
  Request request{"DELETE", s3::objectUrl(config_.endpoint, bucket, key, {{"uploadId", upload_id}}), {}, {}, nullptr,
                  "abort multipart " + bucket + "/" + key};
  auto response = performWithRetries(request);
  if (!response) return response.error();
  if (response->status >= 300 && response->status != 404) return statusError(request.what, response->status, response->body);
  return okStatus();
}

Result<UploadResult> S3Client::upload(const std::string& bucket, const std::string& key, const PayloadReader& reader,
                                      const std::string& content_type) {
  const std::string where = bucket + "/" + key;
  std::string part(config_.part_size, '\0');
  // Fills `part` from the reader; its new size is what was read.
  auto fill = [&]() -> Status {
    size_t filled = 0;
    part.resize(config_.part_size);
    while (filled < part.size()) {
      auto got = reader(part.data() + filled, part.size() - filled);
      if (!got) return got.error();
      if (*got == 0) break;
      filled += *got;
    }
    part.resize(filled);
    return okStatus();
  };
  UploadResult result;
  Sha256 whole;
  if (auto filled = fill(); !filled) return filled.error();
  whole.update(part);
  result.size = part.size();

  if (part.size() < config_.part_size) {
    // One PUT; If-None-Match makes a retry of a PUT that did land answer 412.
    const std::string sha = kube::sha256Hex(part);
    Request request{"PUT", s3::objectUrl(config_.endpoint, bucket, key),
                    {"Content-Type: " + content_type, "If-None-Match: *", "x-amz-meta-sha256: " + sha}, part, nullptr,
                    "PUT " + where};
    auto response = performWithRetries(request);
    if (!response) return response.error();
    if (response->status == 412) {
      auto existing = head(bucket, key);
      if (!existing) return existing.error();
      if (existing->sha256 != sha || existing->size != part.size()) {
        return Error::terminalError("AlreadyExists", "PUT " + where + ": another object already has this key");
      }
    } else if (response->status >= 300) {
      return statusError(request.what, response->status, response->body);
    }
    result.sha256 = whole.finishHex();
    return result;
  }

  Request initiate{"POST", s3::objectUrl(config_.endpoint, bucket, key, {{"uploads", ""}}),
                   {"x-amz-meta-content-type: " + content_type}, {}, nullptr, "start multipart " + where};
  auto started = performWithRetries(initiate);
  if (!started) return started.error();
  if (started->status >= 300) return statusError(initiate.what, started->status, started->body);
  auto upload_id = s3::parseUploadId(started->body);
  if (!upload_id) return upload_id.error();
  auto abandon = [&](Error error) -> Result<UploadResult> {
    (void)abortMultipart(bucket, key, *upload_id);  // best effort; the sweeper finds what stays
    return error;
  };
  std::vector<s3::CompletedPart> parts;
  while (!part.empty()) {
    const int number = static_cast<int>(parts.size()) + 1;
    Request put{"PUT",
                s3::objectUrl(config_.endpoint, bucket, key,
                              {{"partNumber", std::to_string(number)}, {"uploadId", *upload_id}}),
                {},
                part,
                nullptr,
                "PUT part " + std::to_string(number) + " of " + where};
    auto response = performWithRetries(put);
    if (!response) return abandon(response.error());
    if (response->status >= 300) return abandon(statusError(put.what, response->status, response->body));
    parts.push_back({number, response->headers["etag"]});
    if (auto filled = fill(); !filled) return abandon(filled.error());
    whole.update(part);
    result.size += part.size();
  }
  const std::string xml = s3::completeMultipartXml(parts);
  Request complete{"POST", s3::objectUrl(config_.endpoint, bucket, key, {{"uploadId", *upload_id}}), {}, xml, nullptr,
                   "complete multipart " + where};
  auto completed = performWithRetries(complete);
  if (!completed) return abandon(completed.error());
  if (completed->status == 404) {
    // A retried completion whose first try did land finds the upload gone
    // (NoSuchUpload): the object is there, whole, when its size is ours.
    if (auto existing = head(bucket, key); existing && existing->size == result.size) {
      result.parts = static_cast<int>(parts.size());
      result.sha256 = whole.finishHex();
      return result;
    }
  }
  // S3 may answer 200 with an <Error> inside.
  if (completed->status >= 300 || s3::parseErrorDocument(completed->body)) {
    return abandon(statusError(complete.what, completed->status >= 300 ? completed->status : 500, completed->body));
  }
  result.parts = static_cast<int>(parts.size());
  result.sha256 = whole.finishHex();
  return result;
}

}  // namespace warren::offload
