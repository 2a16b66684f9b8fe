#include "offload/curl_management_transport.h"

#include <curl/curl.h>

namespace warren::offload {
namespace {

class CurlTransport : public ManagementTransport {
 public:
  explicit CurlTransport(ManagementAccess access) : access_(std::move(access)), curl_(curl_easy_init()) {}
  ~CurlTransport() override {
    if (curl_ != nullptr) curl_easy_cleanup(curl_);
  }

  Result<HttpAnswer> send(const HttpCall& call) override {
    if (curl_ == nullptr) return Error::local("BrokerUnreachable", "curl_easy_init failed");
    CURL* curl = curl_;
    curl_easy_reset(curl);
    const std::string url = access_.url + call.path;
    HttpAnswer answer;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(curl, CURLOPT_USERNAME, access_.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, access_.password.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(access_.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(2 * access_.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, call.method.c_str());
    curl_slist* headers = curl_slist_append(nullptr, "content-type: application/json");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (!call.body.empty() || call.method == "PUT" || call.method == "POST") {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, call.body.c_str());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(call.body.size()));
    }
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer.body);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, +[](char* buffer, size_t size, size_t count, void* data) -> size_t {
      auto* body = static_cast<std::string*>(data);
      if (body->size() < 1 << 20) body->append(buffer, size * count);
      return size * count;
    });
    const CURLcode code = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    if (code != CURLE_OK) {
      return Error::local("BrokerUnreachable", "management API " + access_.url + ": " + curl_easy_strerror(code));
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
    return answer;
  }

 private:
  ManagementAccess access_;
  CURL* curl_;
};

}  // namespace

std::unique_ptr<ManagementTransport> curlManagementTransport(ManagementAccess access) {
  return std::make_unique<CurlTransport>(std::move(access));
}

}  // namespace warren::offload
