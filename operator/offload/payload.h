// Payload streams for the offload programs: readers that produce a payload
// piece by piece (a file descriptor, a generated JSON document of an exact
// size like seed 001's MSG_SIZE, gzip compression of another reader) and a
// gunzip writer, so neither program ever holds a whole payload in memory.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "offload/s3_client.h"

namespace warren::offload {

// Reads a file descriptor to its end (stdin, a file); the caller owns `fd`.
PayloadReader fileReader(int fd);

// A JSON document of exactly `size` bytes (at least 64): `{"producer":..,
// "seq":N,"data":"..."}` with pseudo-random letters from `seed`, so the
// content differs per message and gzip cannot shrink it to nothing.
PayloadReader generatedReader(uint64_t size, const std::string& producer, uint64_t sequence, uint64_t seed);

// gzip (RFC 1952) of what `source` reads.
PayloadReader gzipReader(PayloadReader source);

// Writes the gunzipped form of the bytes it is given to `sink`.
class GunzipWriter {
 public:
  explicit GunzipWriter(std::function<Status(std::string_view)> sink);
  ~GunzipWriter();
  GunzipWriter(const GunzipWriter&) = delete;
  GunzipWriter& operator=(const GunzipWriter&) = delete;
  Status write(std::string_view compressed);
  // Error when the stream ended early.
  Status finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace warren::offload
