#pragma once
// The memory of the paged KV cache: for every layer, `blocks` blocks of `block_size` token slots
// of keys and of values, stored as F16. Which block belongs to which sequence is the
// BlockPool's and the block tables' business, not this class's.
#include <cstdint>
#include <optional>

#include "engine/model/model_config.hpp"
#include "kernels/cpu/huge_page_arena.hpp"
#include "kernels/cpu/page_populator.hpp"
#include "kernels/cpu/paged_attention.hpp"

namespace troupe {

class KvCache {
 public:
  // With `prefault`, a background thread faults every page in (page_populator.hpp).
  KvCache(const ModelConfig& config, int blocks, int block_size = 16, bool prefault = true);

  static int64_t bytes_per_block(const ModelConfig& config, int block_size);

  int blocks() const { return blocks_; }
  int block_size() const { return block_size_; }
  bool prefaulted() const { return populator_.has_value(); }
  // Blocks until a prefaulted cache's pages are all in; at once without prefault.
  void wait_faulted() {
    if (populator_) populator_->wait();
  }
  PagedKvLayer layer(int index);
  // Copy-on-write: block `to` of every layer gets block `from`'s keys and values.
  void copy_block(int32_t from, int32_t to);

 private:
  size_t bytes() const;  // of keys and values, every layer

  int blocks_;
  int block_size_;
  int layers_;
  int kv_dim_;
  int head_dim_;
  int64_t layer_stride_;  // values per layer per K or V
  // On huge pages (decode attention reads blocks scattered over the whole cache), reserved
  // whole and, with prefault, faulted in by a background thread, not by the steps.
  HugePageArena arena_;
  uint16_t* storage_;
  std::optional<PagePopulator> populator_;  // after the arena: stopped before the arena goes
};

}  // namespace troupe
