#pragma once
// The prefix-cache key of a full KV block: a hash of the previous block's key and this block's
// token ids. BlockPool compares a block's own tokens too, but the prefix before it only by its
// key: two prefixes whose keys collide would share their next block's K and V. A chance
// collision is 2^-64 a lookup; a made one (a client's prompt whose key equals another's system
// prompt's, found by search: each step below can be undone, so a meet-in-the-middle search
// takes ~2^32 steps) needs the chain's start, which is secret to the process.
#include <cstdint>
#include <random>
#include <span>

namespace troupe {

using BlockHash = uint64_t;

// The parent of a sequence's first block: drawn once per process (never in a plan or message:
// every key is made and compared by the one scheduler that owns the pool).
inline BlockHash root_block_hash() {
  static const BlockHash root = [] {
    std::random_device device;
    return (static_cast<BlockHash>(device()) << 32) ^ device();
  }();
  return root;
}

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
