#include "engine/kv/kv_cache.hpp"

#include <algorithm>

namespace troupe {

KvCache::KvCache(const ModelConfig& config, int blocks, int block_size, bool prefault)
    : blocks_(blocks),
      block_size_(block_size),
      layers_(config.layers),
      kv_dim_(config.kv_dim()),
      head_dim_(config.head_dim),
      layer_stride_(static_cast<int64_t>(blocks) * block_size * config.kv_dim()),
      arena_(bytes()),
      storage_(reinterpret_cast<uint16_t*>(arena_.take(bytes()))) {
  // Each layer's keys, then its values: 2 * layers parts indexed alike (page_populator.hpp).
  if (prefault) populator_.emplace(reinterpret_cast<std::byte*>(storage_), bytes(), 2 * layers_);
}

size_t KvCache::bytes() const {
  return static_cast<size_t>(layer_stride_ * 2 * layers_) * sizeof(uint16_t);
}

int64_t KvCache::bytes_per_block(const ModelConfig& config, int block_size) {
  return int64_t{2} * config.layers * block_size * config.kv_dim() * int64_t{sizeof(uint16_t)};
}

PagedKvLayer KvCache::layer(int index) {
  uint16_t* base = storage_ + 2 * layer_stride_ * index;
  return PagedKvLayer{base, base + layer_stride_, block_size_, kv_dim_, head_dim_};
}

void KvCache::copy_block(int32_t from, int32_t to) {
  const int64_t block_values = int64_t{block_size_} * kv_dim_;
  for (int64_t part = 0; part < 2 * layers_; ++part) {  // K and V of each layer
    const uint16_t* base = storage_ + part * layer_stride_;
    std::copy_n(base + from * block_values, block_values,
                storage_ + part * layer_stride_ + to * block_values);
  }
}

}  // namespace troupe
