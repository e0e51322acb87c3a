#include "engine/model/shard_spec.hpp"

#include <algorithm>
#include <string>

namespace troupe {

bool splits_evenly(int64_t heads, int64_t kv_heads, int64_t feed_forward, int size) {
  if (size < 1 || heads <= 0 || kv_heads <= 0) return false;
  return heads % size == 0 && feed_forward % size == 0 &&
         (kv_heads % size == 0 || size % kv_heads == 0);
}

ShardRange output_rows(int64_t vocab, const ShardSpec& shard) {
  if (shard.whole()) return {0, vocab};
  if (shard.output == OutputSplit::leader) return {0, shard.rank == 0 ? vocab : 0};
  const int64_t share = (vocab + shard.size - 1) / shard.size;
  const int64_t first = std::min<int64_t>(vocab, shard.rank * share);
  return {first, std::min(share, vocab - first)};
}

ShardRange kv_head_range(const ModelConfig& config, const ShardSpec& shard) {
  if (config.kv_heads >= shard.size) return shard_range(config.kv_heads, shard);
  // Replicated: ranks rank / (size / kv_heads) ... read one KV head each.
  return {shard.rank / (shard.size / config.kv_heads), 1};
}

ModelConfig rank_config(const ModelConfig& config, const ShardSpec& shard) {
  ModelConfig c = config;
  c.heads = config.heads / shard.size;
  c.kv_heads = static_cast<int>(kv_head_range(config, shard).count);
  c.feed_forward_dim = config.feed_forward_dim / shard.size;
  return c;
}

Status check_shard(const ModelConfig& config, const ShardSpec& shard) {
  if (shard.size < 1 || shard.rank < 0 || shard.rank >= shard.size) {
    return make_error("tensor-parallel rank " + std::to_string(shard.rank) +
                      " is outside a group of " + std::to_string(shard.size));
  }
  if (splits_evenly(config.heads, config.kv_heads, config.feed_forward_dim, shard.size)) {
    return Ok{};
  }
  return make_error("the model's " + std::to_string(config.heads) + " attention heads, " +
                    std::to_string(config.kv_heads) + " KV heads and " +
                    std::to_string(config.feed_forward_dim) +
                    " feed-forward features do not split among " + std::to_string(shard.size) +
                    " tensor-parallel ranks (query heads and features must divide by it, KV "
                    "heads divide by it or it by them)");
}

}  // namespace troupe
