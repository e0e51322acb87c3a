#include "engine/kv/kv_cache.hpp"

namespace troupe {

KvCache::KvCache(const ModelConfig& config, int blocks, int block_size)
    : blocks_(blocks),
      block_size_(block_size),
      kv_dim_(config.kv_dim()),
      layer_stride_(static_cast<int64_t>(blocks) * block_size * config.kv_dim()),
      storage_(static_cast<size_t>(layer_stride_ * 2 * config.layers)) {}

int64_t KvCache::bytes_per_block(const ModelConfig& config, int block_size) {
  return int64_t{2} * config.layers * block_size * config.kv_dim() * int64_t{sizeof(uint16_t)};
}

PagedKvLayer KvCache::layer(int index) {
  uint16_t* base = storage_.data() + 2 * layer_stride_ * index;
  return PagedKvLayer{base, base + layer_stride_, block_size_, kv_dim_};
}

}  // namespace troupe
