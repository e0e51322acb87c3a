#pragma once
// Which part of a model's weights one tensor-parallel rank holds, split as Megatron-LM does:
// attention heads and feed-forward features are divided evenly among the ranks. Q, K, V, gate
// and up are split by rows (each rank computes its own heads' and features' outputs); O and down
// by columns (each rank multiplies its own slice of the input, and an all-reduce sums the ranks'
// partial outputs). KV heads are split when there are at least as many as ranks; otherwise each
// rank keeps the one KV head its query heads read (replicated, as vLLM does). Norms, the token
// embedding and the output layer stay whole on every rank.
#include "engine/model/model_config.hpp"
#include "engine/result.hpp"

namespace troupe {

// Who computes the logits of a group: every rank its share of the vocabulary's rows of the
// output matrix, gathered afterwards (Megatron's vocabulary-parallel layer), or rank 0 alone
// with the whole matrix (the others skip it).
enum class OutputSplit { vocabulary, leader };

struct ShardSpec {
  int rank = 0;
  int size = 1;
  OutputSplit output = OutputSplit::vocabulary;
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

// The rows of the output matrix (vocabulary entries) the rank computes. With
// OutputSplit::vocabulary every rank's share is ceil(vocab / size) rows, the last one's fewer
// (the gather pads it); with OutputSplit::leader rank 0 has them all and the others none.
ShardRange output_rows(int64_t vocab, const ShardSpec& shard);

// Whether `size` ranks split a model of these dimensions evenly: the query heads and the
// feed-forward features divide by it, and the KV heads divide by it or it by them.
bool splits_evenly(int64_t heads, int64_t kv_heads, int64_t feed_forward, int size);

// The KV heads the rank holds: its share, or the one its query heads read when replicated.
ShardRange kv_head_range(const ModelConfig& config, const ShardSpec& shard);

// The shape one rank computes: its query heads, KV heads and feed-forward features; the
// embedding, vocabulary and everything else stay the whole model's.
ModelConfig rank_config(const ModelConfig& config, const ShardSpec& shard);

// Errors: a rank outside the group, or a model whose heads (query or KV) or feed-forward
// features do not divide evenly among `shard.size` ranks.
Status check_shard(const ModelConfig& config, const ShardSpec& shard);

}  // namespace troupe
