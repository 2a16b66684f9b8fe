// warren-offload-consumer --recipient NAME: consumes the pointers of its own
// queue, streams each payload to a file in its work directory while hashing
// it, checks size and SHA-256, hands the payload (gunzipped unless
// --keep-compressed) to a directory or a command, and only then publishes its
// business ACK and acknowledges the delivery. A payload that does not match
// its pointer (or is missing) is refused with a negative ACK that the
// coordinator records: never a silent success. Prints one JSON line per
// pointer handled.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/shutdown.h"
#include "common/backoff.h"
#include "common/log.h"
#include "offload/digest.h"
#include "offload/options.h"
#include "offload/payload.h"
#include "offload/pointer.h"
#include "offload/topology.h"

namespace {

using namespace warren;
using namespace warren::offload;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

int fail(const Error& error) {
  log::error("consumer failed", {log::Field("error", error.message)});
  return 2;
}

// What fetching one payload came to.
struct Fetched {
  bool ok = false;
  std::string detail;  // why not
  fs::path file;       // the stored bytes, verified
};

Status writeAll(std::ofstream& out, std::string_view piece) {
  out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
  if (!out) return Error::local("WriteFailed", "cannot write to the work directory");
  return okStatus();
}

// Downloads (or unpacks the inline data of) `pointer` into `file` and checks
// it. An Error is a failure worth retrying (S3 down); a mismatch is ok=false.
Result<Fetched> fetch(S3Client& s3, const Pointer& pointer, const fs::path& file) {
  Fetched fetched;
  fetched.file = file;
  Sha256 hash;
  uint64_t size = 0;
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) return Error::local("WriteFailed", "cannot create " + file.string());
  if (pointer.is_inline) {
    hash.update(pointer.inline_data);
    size = pointer.inline_data.size();
    if (auto written = writeAll(out, pointer.inline_data); !written) return written.error();
  } else {
    PayloadSink sink{[&](std::string_view piece) {
                       hash.update(piece);
                       size += piece.size();
                       return writeAll(out, piece);
                     },
                     [&] {
                       hash.reset();
                       size = 0;
                       out.close();
                       out.open(file, std::ios::binary | std::ios::trunc);
                     }};
    if (auto downloaded = s3.download(pointer.bucket, pointer.key, sink); !downloaded) {
      if (downloaded.error().reason == "NotFound") {
        fetched.detail = "object " + pointer.bucket + "/" + pointer.key + " not found";
        return fetched;
      }
      return downloaded.error();
    }
  }
  out.close();
  const std::string sha = hash.finishHex();
  if (size != pointer.size) {
    fetched.detail = "size mismatch: the pointer says " + std::to_string(pointer.size) + ", got " + std::to_string(size);
  } else if (sha != pointer.sha256) {
    fetched.detail = "sha256 mismatch: the pointer says " + pointer.sha256 + ", got " + sha;
  } else {
    fetched.ok = true;
  }
  return fetched;
}

// Copies `stored` to `target`, gunzipping when the pointer says gzip and `unpack`.
Status unpackTo(const Pointer& pointer, const fs::path& stored, const fs::path& target, bool unpack) {
  std::ifstream in(stored, std::ios::binary);
  std::ofstream out(target, std::ios::binary | std::ios::trunc);
  if (!in || !out) return Error::local("WriteFailed", "cannot write " + target.string());
  const bool gunzip = unpack && pointer.compression == "gzip";
  GunzipWriter inflater([&](std::string_view piece) { return writeAll(out, piece); });
  char buffer[64 * 1024];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    const std::string_view piece(buffer, static_cast<size_t>(in.gcount()));
    if (auto written = gunzip ? inflater.write(piece) : writeAll(out, piece); !written) return written;
  }
  if (gunzip) return inflater.finish();
  return okStatus();
}

// Hands the payload to the directory or the command; an Error leaves the
// pointer unacknowledged (redelivered, dead-lettered after the delivery limit).
Status deliver(const Pointer& pointer, const fs::path& stored, const std::optional<std::string>& output_dir,
               const std::optional<std::string>& command, bool unpack) {
  fs::path payload = stored;
  if (pointer.compression == "gzip" && unpack) {
    payload = stored.string() + ".payload";
    if (auto unpacked = unpackTo(pointer, stored, payload, true); !unpacked) return unpacked;
  }
  if (output_dir) {
    const fs::path target = fs::path(*output_dir) / pointer.message_id;
    std::error_code error;
    fs::copy_file(payload, target.string() + ".part", fs::copy_options::overwrite_existing, error);
    if (!error) fs::rename(target.string() + ".part", target, error);
    if (error) return Error::local("DeliverFailed", "cannot write " + target.string() + ": " + error.message());
  }
  if (command) {
    const pid_t pid = fork();
    if (pid == 0) {
      const int fd = ::open(payload.c_str(), O_RDONLY);
      if (fd < 0) _exit(127);
      dup2(fd, STDIN_FILENO);
      setenv("WARREN_MESSAGE_ID", pointer.message_id.c_str(), 1);
      setenv("WARREN_CONTENT_TYPE", pointer.content_type.c_str(), 1);
      execl("/bin/sh", "sh", "-c", command->c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return Error::local("DeliverFailed", "the command failed for " + pointer.message_id);
    }
  }
  if (payload != stored) fs::remove(payload);
  return okStatus();
}

}  // namespace

int main(int argc, char** argv) {
  app::ShutdownSignal::instance().install();
  auto& shutdown = app::ShutdownSignal::instance();
  auto setup = setUpProgram(argc, argv, {"recipient", "output-dir", "exec", "work-dir", "prefetch", "max-messages"},
                            {"keep-compressed"});
  if (!setup) return fail(setup.error());
  const Flags* flags = &setup->flags;
  const Connections* connections = &setup->connections;
  auto recipient = flags->require("recipient", {"WARREN_OFFLOAD_RECIPIENT"});
  if (!recipient) return fail(recipient.error());
  if (!validRecipientName(*recipient)) {
    return fail(Error::local("InvalidConfig", "--recipient: '" + *recipient + "' is not a name of [a-z0-9-], 1-63"));
  }
  auto prefetch = flags->integer("prefetch", 4);
  auto max_messages = flags->integer("max-messages", 0);
  if (!prefetch) return fail(prefetch.error());
  if (!max_messages) return fail(max_messages.error());
  const auto output_dir = flags->get("output-dir");
  const auto command = flags->get("exec");
  const fs::path work_dir = flags->getOr("work-dir", fs::temp_directory_path().string());
  const bool unpack = !flags->isSet("keep-compressed");
  const Topology topology(connections->pipeline);
  auto s3 = S3Client::create(connections->s3);
  if (!s3) return fail(s3.error());

  Backoff backoff({500ms, 10s, 2.0, 0.5, 60s});
  size_t next_endpoint = 0;
  long long handled = 0;
  while (!shutdown.requested() && (*max_messages == 0 || handled < *max_messages)) {
    auto retry = [&](const Error& error, const char* what) {
      const auto delay = backoff.next();
      log::warn(what, {log::Field("error", error.message), log::Field("retry_in_ms", static_cast<long long>(delay.count()))});
      shutdown.waitFor(delay);
    };
    // Two connections: one consumes, one publishes ACKs with confirms.
    auto consumer = amqp::Connection::openAny(connections->amqp, &next_endpoint, 5s);
    if (!consumer) { retry(consumer.error(), "broker unreachable"); continue; }
    auto publisher = amqp::Connection::openAny(connections->amqp, &next_endpoint, 5s);
    if (!publisher) { retry(publisher.error(), "broker unreachable"); continue; }
    Status ready = flags->isSet("no-declare") ? okStatus() : topology.declareForRecipient(**consumer, *recipient);
    if (ready) ready = (*consumer)->setPrefetch(static_cast<uint16_t>(*prefetch));
    if (ready) ready = (*consumer)->consume(topology.recipientQueue(*recipient));
    if (ready) ready = (*publisher)->enableConfirms();
    if (!ready) { retry(ready.error(), "cannot consume"); continue; }
    backoff.reset();
    log::info("consuming", {log::Field("recipient", *recipient), log::Field("queue", topology.recipientQueue(*recipient)),
                            log::Field("broker", (*consumer)->endpoint().address())});
    while (!shutdown.requested() && (*max_messages == 0 || handled < *max_messages)) {
      auto delivery = (*consumer)->next(500ms);
      if (!delivery) { retry(delivery.error(), "broker connection lost"); break; }
      if (!*delivery) continue;
      const amqp::Delivery& message = **delivery;
      auto pointer = parsePointer(message.body);
      if (!pointer) {
        log::warn("not a pointer (dead-lettered)", {log::Field("error", pointer.error().message)});
        if (auto rejected = (*consumer)->reject(message.tag, false); !rejected) { retry(rejected.error(), "broker connection lost"); break; }
        continue;
      }
      if (std::find(pointer->recipients.begin(), pointer->recipients.end(), *recipient) == pointer->recipients.end()) {
        // Addressed to others only: nothing to confirm.
        if (auto acked = (*consumer)->ack(message.tag); !acked) { retry(acked.error(), "broker connection lost"); break; }
        continue;
      }
      const fs::path stored = work_dir / (".warren-" + std::to_string(getpid()) + "-" + std::to_string(message.tag));
      auto fetched = fetch(**s3, *pointer, stored);
      if (!fetched) {
        fs::remove(stored);
        retry(fetched.error(), "cannot fetch a payload");
        break;  // the pointer comes back when this connection closes
      }
      if (fetched->ok) {
        if (auto delivered = deliver(*pointer, stored, output_dir, command, unpack); !delivered) {
          fs::remove(stored);
          log::warn("handing the payload over failed; it will be delivered again",
                    {log::Field("message_id", pointer->message_id), log::Field("error", delivered.error().message)});
          shutdown.waitFor(1s);
          if (auto rejected = (*consumer)->reject(message.tag, true); !rejected) { retry(rejected.error(), "broker connection lost"); break; }
          continue;
        }
      } else {
        log::warn("refusing a payload", {log::Field("message_id", pointer->message_id), log::Field("detail", fetched->detail)});
      }
      fs::remove(stored);
      Ack ack;
      ack.message_id = pointer->message_id;
      ack.recipient = *recipient;
      ack.ok = fetched->ok;
      ack.sha256_verified = fetched->ok;
      ack.detail = fetched->detail;
      ack.acked_at = std::chrono::system_clock::now();
      Status sent = (*publisher)->publish("", topology.ackQueue(), toJson(ack), kAckContentType, pointer->message_id);
      if (sent) sent = (*publisher)->waitForConfirms(10s);
      if (!sent) { retry(sent.error(), "cannot publish an ACK"); break; }
      if (auto acked = (*consumer)->ack(message.tag); !acked) { retry(acked.error(), "broker connection lost"); break; }
      ++handled;
      const nlohmann::json line = {{"message_id", pointer->message_id}, {"ok", ack.ok}, {"detail", ack.detail}};
      std::printf("%s\n", line.dump().c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}
