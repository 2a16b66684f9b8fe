// Small-buffer compression for cached objects: zlib's deflate primed with a
// dictionary of the keys and values Kubernetes objects repeat (metadata,
// ownerReferences, conditions, warren's labels) and, when a program adds them,
// samples of the objects it caches; a 1-5 KB object packs to a third or
// less. A buffer that would not shrink is kept as it is.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace warren::runtime {

// The compact form of `bytes`: a tag byte, then the bytes themselves or
// their length and deflate stream.
std::string compactBytes(std::string_view bytes);

// Appends `sample` (typically packed objects like those to be cached: the
// children a controller builds) to the dictionary, which holds the last 32 KB.
// Only before the first compactBytes/expandBytes, as the dictionary may never
// change under bytes compacted with it; false (and no change) after.
bool extendCompactDictionary(std::string_view sample);

// The bytes compactBytes() was given. Throws std::runtime_error when
// `compact` is not its output (only a memory fault could do that).
std::string expandBytes(std::string_view compact);

// A JSON object as MessagePack, compacted; and back. How cached objects are held.
std::string compactObject(const nlohmann::json& object);
nlohmann::json expandObject(std::string_view compact);

}  // namespace warren::runtime
