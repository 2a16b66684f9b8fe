#include "kube/cpprest_transport.h"

#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>
#include <pplx/threadpool.h>
#include <openssl/ssl.h>

#include <cstdlib>

#include "kube/tls_material.h"

namespace warren::kube {
namespace {

namespace http = web::http;
namespace client = web::http::client;

// Parsed TLS material, shared by every connection's SSL context callback.
struct TlsMaterial {
  std::vector<X509Ptr> authorities;
  std::vector<X509Ptr> client_chain;  // leaf first
  PkeyPtr client_key;
  bool insecure = false;
};

Result<std::shared_ptr<TlsMaterial>> parseTls(const TlsConfig& tls) {
  auto material = std::make_shared<TlsMaterial>();
  material->insecure = tls.insecure_skip_verify;
  if (!tls.ca_pem.empty()) {
    auto certs = parseCertificates(tls.ca_pem);
    if (!certs) return Error::local("InvalidConfig", "CA: " + certs.error().message);
    material->authorities = std::move(*certs);
  }
  if (!tls.client_cert_pem.empty()) {
    auto chain = parseCertificates(tls.client_cert_pem);
    if (!chain) return Error::local("InvalidConfig", "client certificate: " + chain.error().message);
    auto key = parsePrivateKey(tls.client_key_pem);
    if (!key) return Error::local("InvalidConfig", "client key: " + key.error().message);
    material->client_chain = std::move(*chain);
    material->client_key = std::move(*key);
  }
  return material;
}

client::http_client_config makeClientConfig(const std::shared_ptr<TlsMaterial>& tls,
                                            std::chrono::seconds timeout) {
  client::http_client_config config;
  config.set_timeout(timeout);
  config.set_validate_certificates(!tls->insecure);
  config.set_ssl_context_callback([tls](boost::asio::ssl::context& context) {
    SSL_CTX* ctx = context.native_handle();
    // A watch waits most of its life: its connection's 16 KB read and write buffers are freed while idle.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (!tls->authorities.empty()) {
      // A configured CA is the only one trusted: cpprestsdk has loaded the system store into this
      // context already, so it is replaced by a store that holds just the configured certificates.
      X509_STORE* store = X509_STORE_new();
      for (const auto& cert : tls->authorities) X509_STORE_add_cert(store, cert.get());
      SSL_CTX_set_cert_store(ctx, store);  // takes ownership, frees the system store
    }
    if (!tls->client_chain.empty()) {
      SSL_CTX_use_certificate(ctx, tls->client_chain.front().get());
      for (size_t i = 1; i < tls->client_chain.size(); ++i) {
        SSL_CTX_add1_chain_cert(ctx, tls->client_chain[i].get());
      }
      SSL_CTX_use_PrivateKey(ctx, tls->client_key.get());
    }
  });
  return config;
}

http::http_request toCpprest(const HttpRequest& request, const std::string& user_agent) {
  http::http_request out(request.method);
  out.set_request_uri(web::uri(request.target()));
  out.headers().add("Accept", "application/json");
  out.headers().add("User-Agent", user_agent);
  for (const auto& [name, value] : request.headers) out.headers()[name] = value;  // replaces a default
  if (!request.content_type.empty()) {
    out.set_body(std::vector<unsigned char>(request.body.begin(), request.body.end()));
    out.headers().set_content_type(request.content_type);
  }
  return out;
}

Error transportError(const std::string& what) {
  return Error::local("TransportError", what);
}

}  // namespace

struct CpprestTransport::Impl {
  std::string server;
  std::string user_agent;
  std::shared_ptr<TlsMaterial> tls;
  std::unique_ptr<client::http_client> client;
};

CpprestTransport::CpprestTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CpprestTransport::~CpprestTransport() = default;

Result<std::shared_ptr<CpprestTransport>> CpprestTransport::create(
    const std::string& server, const TlsConfig& tls, std::chrono::seconds request_timeout,
    std::string user_agent) {
  auto material = parseTls(tls);
  if (!material) return material.error();
  auto impl = std::make_unique<Impl>();
  impl->server = server;
  impl->user_agent = std::move(user_agent);
  impl->tls = std::move(*material);
  try {
    impl->client = std::make_unique<client::http_client>(
        web::uri(server), makeClientConfig(impl->tls, request_timeout));
  } catch (const std::exception& e) {
    return Error::local("InvalidConfig", "server " + server + ": " + e.what());
  }
  return std::shared_ptr<CpprestTransport>(new CpprestTransport(std::move(impl)));
}

bool CpprestTransport::setIoThreads(size_t threads) {
  try {
    crossplat::threadpool::initialize_with_threads(threads);
    return true;
  } catch (const std::exception&) {
    return false;  // already running with its size
  }
}

void CpprestTransport::skipDefaultTrustStore() {
  // OpenSSL reads the variable when a context loads its defaults; an empty file loads nothing and is not an error.
  ::setenv("SSL_CERT_FILE", "/dev/null", 1);
}

Result<HttpResponse> CpprestTransport::send(const HttpRequest& request) {
  try {
    http::http_response response = impl_->client->request(toCpprest(request, impl_->user_agent)).get();
    HttpResponse out;
    out.status = response.status_code();
    out.content_type = response.headers().content_type();
    out.body = response.extract_utf8string(/*ignore_content_type=*/true).get();
    return out;
  } catch (const std::exception& e) {
    return transportError(e.what());
  }
}

Result<HttpResponse> CpprestTransport::stream(const HttpRequest& request, int idle_timeout_seconds,
                                              const LineHandler& on_line, Cancellation& cancel) {
  pplx::cancellation_token_source cancel_source;
  const int subscription = cancel.subscribe([&cancel_source] { cancel_source.cancel(); });
  struct Unsubscribe {
    Cancellation& cancel;
    int id;
    ~Unsubscribe() { cancel.unsubscribe(id); }
  } unsubscribe{cancel, subscription};
  if (cancel.cancelled()) return HttpResponse{200, {}, {}};
  try {
    // A dedicated client: its own connection and an idle timeout longer than
    // the watch's, so a quiet watch is ended by the server, not by us.
    client::http_client watch_client(
        web::uri(impl_->server),
        makeClientConfig(impl_->tls, std::chrono::seconds(idle_timeout_seconds)));
    http::http_response response =
        watch_client.request(toCpprest(request, impl_->user_agent), cancel_source.get_token()).get();
    HttpResponse out;
    out.status = response.status_code();
    out.content_type = response.headers().content_type();
    if (out.status < 200 || out.status >= 300) {
      out.body = response.extract_utf8string(true).get();
      return out;
    }
    concurrency::streams::istream body = response.body();
    while (!cancel.cancelled()) {
      concurrency::streams::container_buffer<std::string> line;
      const size_t read = body.read_line(line).get();
      if (read == 0 && body.is_eof()) break;
      std::string& text = line.collection();
      if (!text.empty() && text.back() == '\r') text.pop_back();
      if (text.empty()) continue;
      if (!on_line(text)) break;
    }
    return out;
  } catch (const pplx::task_canceled&) {
    return HttpResponse{200, {}, {}};
  } catch (const std::exception& e) {
    if (cancel.cancelled()) return HttpResponse{200, {}, {}};
    return transportError(e.what());
  }
}

}  // namespace warren::kube
