#include "offload/payload.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace warren::offload {

PayloadReader fileReader(int fd) {
  return [fd](char* buffer, size_t capacity) -> Result<size_t> {
    for (;;) {
      const ssize_t got = ::read(fd, buffer, capacity);
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR) return Error::local("ReadFailed", std::string("reading the payload: ") + std::strerror(errno));
    }
  };
}

PayloadReader generatedReader(uint64_t size, const std::string& producer, uint64_t sequence, uint64_t seed) {
  struct State {
    std::string head;
    std::string tail = "\"}";
    uint64_t letters = 0;
    uint64_t position = 0;  // in the whole document
    uint64_t random;
  };
  auto state = std::make_shared<State>();
  state->head = "{\"producer\":\"" + producer + "\",\"seq\":" + std::to_string(sequence) + ",\"data\":\"";
  const uint64_t fixed = state->head.size() + state->tail.size();
  if (size < fixed) {
    state->head = std::string(std::min<uint64_t>(size, state->head.size()), ' ');
    state->tail.clear();
  }
  state->letters = size > fixed ? size - fixed : 0;
  state->random = seed * 0x9E3779B97F4A7C15ULL + sequence + 1;
  const uint64_t total = size;
  return [state, total](char* buffer, size_t capacity) -> Result<size_t> {
    size_t written = 0;
    const uint64_t head = state->head.size();
    while (written < capacity && state->position < total) {
      const uint64_t at = state->position;
      if (at < head) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(capacity - written, head - at));
        std::copy_n(state->head.data() + at, n, buffer + written);
        written += n;
        state->position += n;
      } else if (at < head + state->letters) {
        // Eight letters per xorshift step.
        size_t n = static_cast<size_t>(std::min<uint64_t>(capacity - written, head + state->letters - at));
        while (n > 0) {
          state->random ^= state->random << 13;
          state->random ^= state->random >> 7;
          state->random ^= state->random << 17;
          uint64_t bits = state->random;
          for (int i = 0; i < 8 && n > 0; ++i, --n, bits >>= 8) {
            buffer[written++] = static_cast<char>('a' + (bits & 0xff) % 26);
            ++state->position;
          }
        }
      } else {
        buffer[written++] = state->tail[at - head - state->letters];
        ++state->position;
      }
    }
    return written;
  };
}

PayloadReader gzipReader(PayloadReader source) {
  struct State {
    z_stream stream{};
    std::vector<char> input = std::vector<char>(64 * 1024);
    bool source_done = false;
    bool finished = false;
    PayloadReader source;
    ~State() { deflateEnd(&stream); }
  };
  auto state = std::make_shared<State>();
  state->source = std::move(source);
  // windowBits 15 + 16: a gzip header and trailer rather than zlib's.
  deflateInit2(&state->stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  return [state](char* buffer, size_t capacity) -> Result<size_t> {
    if (state->finished) return size_t{0};
    z_stream& z = state->stream;
    z.next_out = reinterpret_cast<Bytef*>(buffer);
    z.avail_out = static_cast<uInt>(std::min<size_t>(capacity, 1u << 30));
    while (z.avail_out > 0) {
      if (z.avail_in == 0 && !state->source_done) {
        auto got = state->source(state->input.data(), state->input.size());
        if (!got) return got.error();
        if (*got == 0) state->source_done = true;
        z.next_in = reinterpret_cast<Bytef*>(state->input.data());
        z.avail_in = static_cast<uInt>(*got);
      }
      const int result = deflate(&z, state->source_done ? Z_FINISH : Z_NO_FLUSH);
      if (result == Z_STREAM_END) {
        state->finished = true;
        break;
      }
      if (result != Z_OK && result != Z_BUF_ERROR) return Error::local("CompressFailed", "gzip: deflate failed");
    }
    return capacity - z.avail_out;
  };
}

struct GunzipWriter::State {
  z_stream stream{};
  std::function<Status(std::string_view)> sink;
  bool ended = false;
  ~State() { inflateEnd(&stream); }
};

GunzipWriter::GunzipWriter(std::function<Status(std::string_view)> sink) : state_(std::make_unique<State>()) {
  state_->sink = std::move(sink);
  inflateInit2(&state_->stream, 15 + 16);
}

GunzipWriter::~GunzipWriter() = default;

Status GunzipWriter::write(std::string_view compressed) {
  z_stream& z = state_->stream;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  char out[64 * 1024];
  while (z.avail_in > 0 && !state_->ended) {
    z.next_out = reinterpret_cast<Bytef*>(out);
    z.avail_out = sizeof(out);
    const int result = inflate(&z, Z_NO_FLUSH);
    if (result != Z_OK && result != Z_STREAM_END) return Error::local("DecompressFailed", "gunzip: not valid gzip data");
    if (auto written = state_->sink(std::string_view(out, sizeof(out) - z.avail_out)); !written) return written;
    if (result == Z_STREAM_END) state_->ended = true;
  }
  return okStatus();
}

Status GunzipWriter::finish() {
  if (!state_->ended) return Error::local("DecompressFailed", "gunzip: the gzip stream ended early");
  return okStatus();
}

}  // namespace warren::offload
