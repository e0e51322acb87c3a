#pragma once
// The prefix-cache key of a full KV block: a hash of the previous block's key and this block's
// token ids, so equal keys mean equal whole prefixes (up to a collision, which BlockPool rules
// out by comparing the tokens too).
#include <cstdint>
#include <span>

namespace troupe {

using BlockHash = uint64_t;

// The parent of a sequence's first block.
constexpr BlockHash kRootBlockHash = 0x9e3779b97f4a7c15ull;

inline BlockHash hash_block(BlockHash parent, std::span<const int32_t> tokens) {
  // splitmix64 finalizer over a running combination: cheap, and well mixed in every bit.
  auto mix = [](uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  uint64_t h = mix(parent);
  for (int32_t t : tokens) h = mix(h ^ static_cast<uint32_t>(t)) + 0x9e3779b97f4a7c15ull;
  return h;
}

}  // namespace troupe
