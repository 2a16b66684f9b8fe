#include "offload/s3_request.h"

#include <cstdio>
#include <sstream>

#include <pugixml.hpp>

namespace warren::offload::s3 {
namespace {

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

Result<pugi::xml_document> load(const std::string& xml, const char* what) {
  pugi::xml_document document;
  if (const auto parsed = document.load_buffer(xml.data(), xml.size()); !parsed) {
    return Error::local("S3Error", std::string("cannot parse the ") + what + ": " + parsed.description());
  }
  return document;
}

std::string escapeXml(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

std::string percentEncode(const std::string& text, bool keep_slash) {
  std::string out;
  for (unsigned char c : text) {
    if (unreserved(c) || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      char escaped[4];
      std::snprintf(escaped, sizeof(escaped), "%%%02X", c);
      out += escaped;
    }
  }
  return out;
}

std::string objectUrl(const std::string& endpoint, const std::string& bucket, const std::string& key,
                      const std::map<std::string, std::string>& parameters) {
  std::string url = endpoint;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/" + percentEncode(bucket, false);
  if (!key.empty()) url += "/" + percentEncode(key, true);
  char separator = '?';
  for (const auto& [name, value] : parameters) {
    url += separator + percentEncode(name, false) + "=" + percentEncode(value, false);
    separator = '&';
  }
  return url;
}

std::string completeMultipartXml(const std::vector<CompletedPart>& parts) {
  std::ostringstream xml;
  xml << "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (const auto& part : parts) {
    xml << "<Part><PartNumber>" << part.number << "</PartNumber><ETag>" << escapeXml(part.etag) << "</ETag></Part>";
  }
  xml << "</CompleteMultipartUpload>";
  return xml.str();
}

Result<std::string> parseUploadId(const std::string& xml) {
  auto document = load(xml, "InitiateMultipartUploadResult");
  if (!document) return document.error();
  const std::string id = document->child("InitiateMultipartUploadResult").child_value("UploadId");
  if (id.empty()) return Error::local("S3Error", "InitiateMultipartUploadResult without an UploadId");
  return id;
}

Result<ListPage> parseListPage(const std::string& xml) {
  auto document = load(xml, "ListBucketResult");
  if (!document) return document.error();
  const pugi::xml_node result = document->child("ListBucketResult");
  if (!result) return Error::local("S3Error", "not a ListBucketResult");
  ListPage page;
  for (const pugi::xml_node contents : result.children("Contents")) {
    ListedObject object;
    object.key = contents.child_value("Key");
    object.size = std::strtoull(contents.child_value("Size"), nullptr, 10);
    object.last_modified = contents.child_value("LastModified");
    page.objects.push_back(std::move(object));
  }
  if (std::string(result.child_value("IsTruncated")) == "true") {
    page.next_continuation_token = result.child_value("NextContinuationToken");
  }
  return page;
}

Result<PendingUploadsPage> parsePendingUploads(const std::string& xml) {
  auto document = load(xml, "ListMultipartUploadsResult");
  if (!document) return document.error();
  const pugi::xml_node result = document->child("ListMultipartUploadsResult");
  if (!result) return Error::local("S3Error", "not a ListMultipartUploadsResult");
  PendingUploadsPage page;
  for (const pugi::xml_node upload : result.children("Upload")) {
    page.uploads.push_back({upload.child_value("Key"), upload.child_value("UploadId"), upload.child_value("Initiated")});
  }
  if (std::string(result.child_value("IsTruncated")) == "true") {
    page.next_markers = std::make_pair(std::string(result.child_value("NextKeyMarker")),
                                       std::string(result.child_value("NextUploadIdMarker")));
  }
  return page;
}

std::optional<std::string> parseErrorDocument(const std::string& xml) {
  pugi::xml_document document;
  if (!document.load_buffer(xml.data(), xml.size())) return std::nullopt;
  const pugi::xml_node error = document.child("Error");
  if (!error) return std::nullopt;
  return std::string(error.child_value("Code")) + ": " + error.child_value("Message");
}

}  // namespace warren::offload::s3
