// The parts of an S3 request that are computed without I/O: path-style URLs
// with keys percent-encoded, query strings already in SigV4's canonical
// order (libcurl 7.88's CURLOPT_AWS_SIGV4 signs the query as written, does
// not sort it, and needs "uploads=" rather than "uploads"), and the S3 XML
// bodies warren writes and reads (pugixml).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace warren::offload::s3 {

// RFC 3986 percent-encoding of everything but unreserved characters; '/'
// stays as is when `keep_slash` (object keys in a path).
std::string percentEncode(const std::string& text, bool keep_slash);

// "endpoint/bucket/key?query", the query from `parameters` sorted by name
// (a std::map) with every name and value encoded and "=" always present.
std::string objectUrl(const std::string& endpoint, const std::string& bucket, const std::string& key,
                      const std::map<std::string, std::string>& parameters = {});

struct CompletedPart {
  int number = 0;
  std::string etag;
};
std::string completeMultipartXml(const std::vector<CompletedPart>& parts);

// InitiateMultipartUploadResult's UploadId.
Result<std::string> parseUploadId(const std::string& xml);

struct ListedObject {
  std::string key;
  uint64_t size = 0;
  std::string last_modified;  // as S3 wrote it (ISO 8601)
};
struct ListPage {
  std::vector<ListedObject> objects;
  std::optional<std::string> next_continuation_token;
};
Result<ListPage> parseListPage(const std::string& xml);

// ListMultipartUploadsResult: uploads begun and never completed or aborted.
struct PendingUpload {
  std::string key;
  std::string upload_id;
  std::string initiated;  // as S3 wrote it (ISO 8601)
};
struct PendingUploadsPage {
  std::vector<PendingUpload> uploads;
  // Set when truncated: where the next page starts.
  std::optional<std::pair<std::string, std::string>> next_markers;  // key-marker, upload-id-marker
};
Result<PendingUploadsPage> parsePendingUploads(const std::string& xml);

// An S3 <Error> document's Code and Message ("NoSuchKey: The specified key
// does not exist."), or nullopt when `xml` is not one.
std::optional<std::string> parseErrorDocument(const std::string& xml);

}  // namespace warren::offload::s3
