#pragma once
// Which part of a model's weights one tensor-parallel rank holds, split as Megatron-LM does:
// attention heads and feed-forward features are divided evenly among the ranks. Q, K, V, gate
// and up are split by rows (each rank computes its own heads' and features' outputs); O and down
// by columns (each rank multiplies its own slice of the input, and an all-reduce sums the ranks'
// partial outputs). Norms, the token embedding and the output layer stay whole on every rank.
#include "engine/model/model_config.hpp"
#include "engine/result.hpp"

namespace troupe {

struct ShardSpec {
  int rank = 0;
  int size = 1;
  bool whole() const { return size == 1; }
  bool operator==(const ShardSpec&) const = default;
};

// The rank's share of `total` (heads, features, ...): [first, first + count).
struct ShardRange {
  int64_t first = 0;
  int64_t count = 0;
};
inline ShardRange shard_range(int64_t total, const ShardSpec& shard) {
  const int64_t count = total / shard.size;
  return {shard.rank * count, count};
}

// Errors: a rank outside the group, or a model whose heads (query or KV) or feed-forward
// features do not divide evenly among `shard.size` ranks.
Status check_shard(const ModelConfig& config, const ShardSpec& shard);

}  // namespace troupe
