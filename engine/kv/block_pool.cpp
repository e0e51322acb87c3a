#include "engine/kv/block_pool.hpp"

#include <algorithm>
#include <stdexcept>

namespace troupe {

BlockPool::BlockPool(int blocks, int block_size, bool enable_prefix_caching)
    : block_size_(block_size),
      prefix_caching_(enable_prefix_caching),
      blocks_(static_cast<size_t>(blocks)) {
  for (int32_t b = 0; b < blocks; ++b) push_free_tail(b);
}

size_t BlockPool::index(int32_t block) const {
  if (block < 0 || block >= total_blocks()) throw std::logic_error("BlockPool: invalid block id");
  return static_cast<size_t>(block);
}

void BlockPool::unlink_free(int32_t block) {
  Block& b = blocks_[index(block)];
  (b.prev == kNone ? free_head_ : blocks_[static_cast<size_t>(b.prev)].next) = b.next;
  (b.next == kNone ? free_tail_ : blocks_[static_cast<size_t>(b.next)].prev) = b.prev;
  b.prev = b.next = kNone;
  --free_count_;
}

void BlockPool::push_free_tail(int32_t block) {
  Block& b = blocks_[index(block)];
  b.prev = free_tail_;
  b.next = kNone;
  (free_tail_ == kNone ? free_head_ : blocks_[static_cast<size_t>(free_tail_)].next) = block;
  free_tail_ = block;
  ++free_count_;
}

void BlockPool::forget(int32_t block) {
  Block& b = blocks_[index(block)];
  if (!b.cached) return;
  auto [first, last] = cached_.equal_range(b.hash);
  for (auto it = first; it != last; ++it) {
    if (it->second == block) {
      cached_.erase(it);
      break;
    }
  }
  b.cached = false;
  b.tokens.clear();
}

std::optional<int32_t> BlockPool::allocate() {
  if (free_head_ == kNone) return std::nullopt;
  const int32_t block = free_head_;
  unlink_free(block);
  forget(block);
  blocks_[static_cast<size_t>(block)].refs = 1;
  return block;
}

void BlockPool::retain(int32_t block) {
  Block& b = blocks_[index(block)];
  if (b.refs == 0) {
    if (!b.cached) throw std::logic_error("BlockPool::retain: block is free and holds nothing");
    unlink_free(block);
  }
  ++b.refs;
}

void BlockPool::release(int32_t block) {
  Block& b = blocks_[index(block)];
  if (b.refs <= 0) throw std::logic_error("BlockPool::release: block has no references");
  if (--b.refs > 0) return;
  push_free_tail(block);
  if (!prefix_caching_) forget(block);
}

std::optional<int32_t> BlockPool::find_cached(BlockHash parent,
                                              std::span<const int32_t> tokens) const {
  if (!prefix_caching_) return std::nullopt;
  auto [first, last] = cached_.equal_range(hash_block(parent, tokens));
  for (auto it = first; it != last; ++it) {
    const Block& b = blocks_[static_cast<size_t>(it->second)];
    if (b.parent == parent &&
        std::equal(tokens.begin(), tokens.end(), b.tokens.begin(), b.tokens.end())) {
      return it->second;
    }
  }
  return std::nullopt;
}

BlockHash BlockPool::cache_full_block(int32_t block, BlockHash parent,
                                      std::span<const int32_t> tokens) {
  const BlockHash hash = hash_block(parent, tokens);
  Block& b = blocks_[index(block)];
  if (!prefix_caching_ || b.cached || b.refs == 0 || find_cached(parent, tokens)) return hash;
  b.cached = true;
  b.hash = hash;
  b.parent = parent;
  b.tokens.assign(tokens.begin(), tokens.end());
  cached_.emplace(hash, block);
  return hash;
}

}  // namespace troupe
