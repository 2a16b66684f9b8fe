// Small-buffer compression for cached objects: zlib's deflate primed with a
// dictionary of the keys and values Kubernetes objects repeat (metadata,
// ownerReferences, conditions, warren's labels), so a 1-5 KB object packs
// to about a third. A buffer that would not shrink is kept as it is.
#pragma once

#include <string>
#include <string_view>

namespace warren::runtime {

// The compact form of `bytes`: a tag byte, then the bytes themselves or
// their length and deflate stream.
std::string compactBytes(std::string_view bytes);

// The bytes compactBytes() was given. Throws std::runtime_error when
// `compact` is not its output (only a memory fault could do that).
std::string expandBytes(std::string_view compact);

}  // namespace warren::runtime
