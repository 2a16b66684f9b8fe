// warren-offload-producer: stores payloads in S3 and publishes a pointer to
// each, with publisher confirms. The upload always finishes before the
// pointer is published, so a crash leaves at worst an orphan object (which
// the coordinator's sweeper finds), never a pointer to nothing. Payloads
// come from a file, stdin, or are generated (seed 001's MSG_SIZE and COUNT);
// small ones travel inline in the pointer. Prints one JSON line per message.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/shutdown.h"
#include "common/backoff.h"
#include "common/log.h"
#include "kube/tls_material.h"
#include "offload/digest.h"
#include "offload/options.h"
#include "offload/payload.h"
#include "offload/pointer.h"
#include "offload/topology.h"

namespace {

using namespace warren;
using namespace warren::offload;
using namespace std::chrono_literals;

int fail(const Error& error) {
  log::error("producer failed", {log::Field("error", error.message)});
  return 1;
}

std::string randomHex(std::mt19937_64& random) {
  char text[33];
  std::snprintf(text, sizeof(text), "%016llx%016llx", static_cast<unsigned long long>(random()),
                static_cast<unsigned long long>(random()));
  return text;
}

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) items.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

// Publishes `pointer`, reconnecting with backoff until confirmed or `deadline`.
class PointerPublisher {
 public:
  PointerPublisher(const Connections& connections, const Topology& topology, std::vector<std::string> recipients,
                   bool declare)
      : connections_(connections), topology_(topology), recipients_(std::move(recipients)), declare_(declare) {}

  Status publish(const Pointer& pointer, std::chrono::steady_clock::time_point deadline) {
    Backoff backoff({200ms, 5s, 2.0, 0.5, 60s});
    const std::string body = toJson(pointer);
    for (;;) {
      Status sent = connect();
      if (sent) sent = connection_->publish(topology_.pointerExchange(), "", body, kPointerContentType, pointer.message_id);
      if (sent) sent = connection_->waitForConfirms(10s);
      if (sent) return sent;
      if (sent.error().reason == "Unroutable") return sent;  // no queue is bound: retrying cannot help
      connection_.reset();
      const auto delay = backoff.next();
      if (std::chrono::steady_clock::now() + delay > deadline) return sent;
      log::warn("publish failed, retrying", {log::Field("error", sent.error().message)});
      std::this_thread::sleep_for(delay);
    }
  }

 private:
  Status connect() {
    if (connection_) return okStatus();
    auto opened = amqp::Connection::openAny(connections_.amqp, &next_, 5s);
    if (!opened) return opened.error();
    Status ready = declare_ ? topology_.declareForProducer(**opened, recipients_) : okStatus();
    if (ready) ready = (*opened)->enableConfirms();
    if (!ready) return ready;
    connection_ = std::move(*opened);
    return okStatus();
  }

  const Connections& connections_;
  const Topology& topology_;
  const std::vector<std::string> recipients_;
  const bool declare_;
  size_t next_ = 0;
  std::unique_ptr<amqp::Connection> connection_;
};

}  // namespace

int main(int argc, char** argv) {
  app::ShutdownSignal::instance().install();
  auto setup = setUpProgram(argc, argv, {"recipients", "file", "size", "count", "inline-threshold", "ttl", "producer-id", "content-type",
                             "key-prefix", "publish-timeout", "seed"},
                            {"gzip", "verify", "stdin"});
  if (!setup) return fail(setup.error());
  const Flags* flags = &setup->flags;
  const Connections* connections = &setup->connections;
  auto recipients_flag = flags->require("recipients", {"WARREN_OFFLOAD_RECIPIENTS"});
  if (!recipients_flag) return fail(recipients_flag.error());
  std::vector<std::string> recipients = splitList(*recipients_flag);
  for (const auto& name : recipients) {
    if (!validRecipientName(name)) return fail(Error::local("InvalidConfig", "--recipients: '" + name + "' is not a recipient name"));
  }
  std::sort(recipients.begin(), recipients.end());
  recipients.erase(std::unique(recipients.begin(), recipients.end()), recipients.end());
  if (recipients.empty()) return fail(Error::local("InvalidConfig", "--recipients: at least one recipient"));
  auto size = flags->bytes("size", 1 << 20);
  auto count = flags->integer("count", 1);
  // The environment names are the keys of an OffloadPipeline's binding Secret (envFrom).
  auto threshold = flags->bytes("inline-threshold", 64 * 1024, {"WARREN_OFFLOAD_INLINE_THRESHOLD"});
  auto ttl = flags->duration("ttl", 24h, {"WARREN_OFFLOAD_TTL"});
  auto publish_timeout = flags->duration("publish-timeout", 60s);
  auto seed = flags->integer("seed", static_cast<long long>(std::random_device{}() & 0x7fffffff));
  for (const Error* error : {size ? nullptr : &size.error(), count ? nullptr : &count.error(),
                             threshold ? nullptr : &threshold.error(), ttl ? nullptr : &ttl.error(),
                             publish_timeout ? nullptr : &publish_timeout.error(), seed ? nullptr : &seed.error()}) {
    if (error != nullptr) return fail(*error);
  }
  const bool from_stdin = flags->isSet("stdin");
  const auto file = flags->get("file");
  if (from_stdin && *count != 1) return fail(Error::local("InvalidConfig", "--stdin: sends one payload (--count 1)"));
  const char* compression = std::getenv("WARREN_OFFLOAD_COMPRESSION");
  const bool gzip = flags->isSet("gzip") || (compression != nullptr && std::string(compression) == "gzip");
  char host[256] = "producer";
  gethostname(host, sizeof(host) - 1);
  const std::string producer = flags->getOr("producer-id", host);
  const std::string content_type = flags->getOr("content-type", file || from_stdin ? "application/octet-stream" : "application/json");
  const std::string key_prefix = flags->getOr("key-prefix", connections->pipeline + "/");
  const Topology topology(connections->pipeline);

  auto s3 = S3Client::create(connections->s3);
  if (!s3) return fail(s3.error());
  PointerPublisher publisher(*connections, topology, recipients, !flags->isSet("no-declare"));
  std::mt19937_64 random(std::random_device{}());

  for (long long i = 0; i < *count && !app::ShutdownSignal::instance().requested(); ++i) {
    int fd = -1;
    PayloadReader source;
    if (from_stdin) {
      source = fileReader(STDIN_FILENO);
    } else if (file) {
      fd = ::open(file->c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return fail(Error::local("InvalidConfig", "--file: cannot open " + *file));
      source = fileReader(fd);
    } else {
      source = generatedReader(*size, producer, static_cast<uint64_t>(i), static_cast<uint64_t>(*seed));
    }
    if (gzip) source = gzipReader(std::move(source));

    Pointer pointer;
    pointer.message_id = producer + "-" + randomHex(random);
    pointer.producer = producer;
    pointer.content_type = content_type;
    pointer.compression = gzip ? "gzip" : "none";
    pointer.recipients = recipients;
    pointer.created_at = std::chrono::system_clock::now();
    pointer.expires_at = pointer.created_at + *ttl;

    // Up to threshold + 1 bytes first: what fits travels inline.
    std::string head;
    bool ended = false;
    while (head.size() <= *threshold) {
      char buffer[64 * 1024];
      auto got = source(buffer, std::min<size_t>(sizeof(buffer), *threshold + 1 - head.size()));
      if (!got) return fail(got.error());
      if (*got == 0) { ended = true; break; }
      head.append(buffer, *got);
    }
    if (ended) {
      pointer.is_inline = true;
      pointer.size = head.size();
      pointer.sha256 = kube::sha256Hex(head);
      pointer.inline_data = std::move(head);
    } else {
      size_t head_at = 0;
      PayloadReader chained = [&](char* buffer, size_t capacity) -> Result<size_t> {
        if (head_at < head.size()) {
          const size_t n = std::min(capacity, head.size() - head_at);
          std::copy_n(head.data() + head_at, n, buffer);
          head_at += n;
          return n;
        }
        return source(buffer, capacity);
      };
      pointer.bucket = connections->bucket;
      pointer.key = key_prefix + pointer.message_id;
      auto uploaded = (*s3)->upload(pointer.bucket, pointer.key, chained, content_type);
      if (!uploaded) return fail(uploaded.error());
      pointer.size = uploaded->size;
      pointer.sha256 = uploaded->sha256;
      if (flags->isSet("verify")) {
        Sha256 hash;
        uint64_t seen = 0;
        PayloadSink sink{[&](std::string_view piece) { hash.update(piece); seen += piece.size(); return okStatus(); },
                         [&] { hash.reset(); seen = 0; }};
        if (auto downloaded = (*s3)->download(pointer.bucket, pointer.key, sink); !downloaded) return fail(downloaded.error());
        if (hash.finishHex() != pointer.sha256 || seen != pointer.size) {
          return fail(Error::local("VerifyFailed", "the stored object does not read back as uploaded: " + pointer.key));
        }
      }
    }
    if (fd >= 0) ::close(fd);
    if (auto published = publisher.publish(pointer, std::chrono::steady_clock::now() + *publish_timeout); !published) {
      return fail(published.error());
    }
    const nlohmann::json line = {{"message_id", pointer.message_id}, {"inline", pointer.is_inline},
                                 {"bucket", pointer.bucket},         {"key", pointer.key},
                                 {"size", pointer.size},             {"sha256", pointer.sha256}};
    std::printf("%s\n", line.dump().c_str());
    std::fflush(stdout);
  }
  return 0;
}
