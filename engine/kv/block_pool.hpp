#pragma once
// The bookkeeping of the paged KV cache's blocks: reference counts, a free list in
// least-recently-freed order, and the prefix-cache index of full blocks.
//
// A block whose last reference goes away joins the free list's tail but keeps its cached
// contents and hash, so a later request with the same prefix can take it back (a prefix-cache
// hit). allocate() takes from the head, the block freed longest ago, and only then forgets
// what it held: unreferenced cached blocks are evicted LRU, as in vLLM.
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/kv/block_hash.hpp"

namespace troupe {

class BlockPool {
 public:
  BlockPool(int blocks, int block_size, bool enable_prefix_caching);

  int total_blocks() const { return static_cast<int>(blocks_.size()); }
  int block_size() const { return block_size_; }
  // Blocks that allocate() can hand out: unreferenced, cached or not.
  int free_blocks() const { return free_count_; }
  int used_blocks() const { return total_blocks() - free_count_; }
  int ref_count(int32_t block) const { return blocks_[index(block)].refs; }

  // A block with one reference and no cached contents, or nothing when every block is in use.
  std::optional<int32_t> allocate();
  // Another reference to a block in use, or to a cached free block (taking it off the free list).
  void retain(int32_t block);
  // Drops one reference; at zero the block goes to the free list's tail, still cached.
  void release(int32_t block);

  // The cached block holding `tokens` (block_size of them) after the prefix hashed `parent`.
  std::optional<int32_t> find_cached(BlockHash parent, std::span<const int32_t> tokens) const;
  // Records that `block` (in use, full) holds `tokens` after `parent`; returns its hash. When an
  // equal block is already cached, that entry stays and this block remains uncached.
  BlockHash cache_full_block(int32_t block, BlockHash parent, std::span<const int32_t> tokens);

 private:
  static constexpr int32_t kNone = -1;
  struct Block {
    int refs = 0;
    int32_t prev = kNone, next = kNone;  // free-list links, when refs == 0
    bool cached = false;
    BlockHash hash = 0, parent = 0;
    std::vector<int32_t> tokens;  // the cached contents, compared on lookup (block_hash.hpp)
  };

  size_t index(int32_t block) const;
  void unlink_free(int32_t block);
  void push_free_tail(int32_t block);
  void forget(int32_t block);

  int block_size_;
  bool prefix_caching_;
  std::vector<Block> blocks_;
  int32_t free_head_ = kNone, free_tail_ = kNone;
  int free_count_ = 0;
  std::unordered_multimap<BlockHash, int32_t> cached_;
};

}  // namespace troupe
