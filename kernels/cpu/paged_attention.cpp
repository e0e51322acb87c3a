#include "kernels/cpu/paged_attention.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/half.hpp"
#include "kernels/cpu/kernel_table.hpp"

namespace troupe {
namespace {

// Query heads `queries` sharing one KV head (query g at q + g * head_dim, its output at
// out + g * head_dim) against positions 0..length-1 of their sequence, by llama.cpp's tiled flash
// attention: per tile of kAttentionTile positions, scores; each head's running maximum raised,
// and its output and sum so far scaled down, if the tile holds a larger score; exponentials
// summed in softmax's order; their values added in. `key_blocks` and `value_blocks` start at the
// KV head; value rows are `value_stride` apart. `scores` holds kAttentionTile per query.
void attend(const float* q, int queries, const uint16_t* const* key_blocks,
            const uint16_t* const* value_blocks, int block_size, int value_stride, int length,
            int head_dim, float scale, float* scores, float* max, float* sum, float* out) {
  const KernelTable& k = kernels();
  std::fill(out, out + queries * head_dim, 0.0f);
  std::fill(max, max + queries, -INFINITY);
  std::fill(sum, sum + queries, 0.0f);
  for (int first = 0; first < length; first += kAttentionTile) {
    const int n = std::min(kAttentionTile, length - first);
    k.attention_scores(q, queries, key_blocks, block_size, first, n, head_dim, scale, scores);
    for (int g = 0; g < queries; ++g) {
      float* row = scores + g * kAttentionTile;
      const float new_max = std::fmax(max[g], row[k.argmax(row, n)]);  // SIMD: one compare a lane
      if (new_max > max[g]) {
        const float shrink = std::exp(max[g] - new_max);
        for (int d = 0; d < head_dim; ++d) out[g * head_dim + d] *= shrink;
        sum[g] *= shrink;
      }
      max[g] = new_max;
      sum[g] = static_cast<float>(sum[g] + k.exp_shifted_sum(row, n, max[g]));  // in double
    }
    k.attention_values(scores, queries, value_blocks, block_size, value_stride, first, n, head_dim,
                       out);
  }
  for (int g = 0; g < queries; ++g) {
    const float inverse = sum[g] == 0.0f ? 0.0f : 1.0f / sum[g];
    for (int d = 0; d < head_dim; ++d) out[g * head_dim + d] *= inverse;
  }
}

// Dimension 0 of a token's key in its (transposed) cache block: dimension i is at [i * block_size].
uint16_t* key_slot(const PagedKvLayer& layer, const TokenPlace& place) {
  const int bs = layer.block_size;
  return layer.key_block(place.block_table[place.position / bs]) + place.position % bs;
}

void store_halves(const float* x, int n, uint16_t* out, int stride) {
  for (int i = 0; i < n; ++i) out[i * stride] = float_to_half(x[i]);
}

// A token's value row, head by head into its block's runs.
void store_value(const PagedKvLayer& layer, const TokenPlace& place, const float* value) {
  const int32_t block = place.block_table[place.position / layer.block_size];
  const int slot = place.position % layer.block_size;
  for (int first = 0; first < layer.kv_dim; first += layer.head_dim) {
    store_halves(value + first, layer.head_dim,
                 layer.value_block(block, first) + slot * layer.head_dim, 1);
  }
}

}  // namespace

void store_kv(const PagedKvLayer& layer, const TokenPlace& place, const float* key,
              const float* value) {
  store_halves(key, layer.kv_dim, key_slot(layer, place), layer.block_size);
  store_value(layer, place, value);
}

void store_rotated_kv(const PagedKvLayer& layer, const TokenPlace& place, const RopeTable& rope,
                      const RopeConfig& config, int64_t t, int head_dim, const float* key,
                      const float* value) {
  thread_local std::vector<float> rotated;  // one head, in L1
  rotated.resize(static_cast<size_t>(head_dim));
  uint16_t* k = key_slot(layer, place);
  for (int first = 0; first < layer.kv_dim; first += head_dim) {
    rope.rotate_head(config, t, key + first, head_dim, rotated.data());
    store_halves(rotated.data(), head_dim, k + first * layer.block_size, layer.block_size);
  }
  store_value(layer, place, value);
}

void paged_attention(ThreadPool& pool, const AttentionShape& shape, const PagedKvLayer& layer,
                     const float* q, const TokenPlace* places, int64_t tokens, float* out) {
  const int group = shape.heads / shape.kv_heads;  // query heads sharing one KV head (GQA)
  const int head_dim = shape.head_dim;
  const int bs = layer.block_size;
  const int64_t q_stride = static_cast<int64_t>(shape.heads) * head_dim;
  // A task is a token's KV head with its whole group, so that each key and value is read once
  // for the group; with fewer of those than threads, a single query head. (One sequence's 3 KV
  // heads on 2 threads: whole groups, though one thread takes two, 1.5-1.7x faster than 9 single
  // heads on a Zen 5 EPYC, troupe-micro paged_attention at 128 and 512 positions.)
  const int per_task = tokens * shape.kv_heads >= pool.size() ? group : 1;
  const int tasks_per_token = shape.heads / per_task;
  pool.parallel_for(tokens * tasks_per_token, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> scores, max, sum;
    thread_local std::vector<const uint16_t*> key_blocks, value_blocks;
    scores.resize(static_cast<size_t>(per_task * kAttentionTile));
    max.resize(static_cast<size_t>(per_task));
    sum.resize(max.size());
    for (int64_t task = begin; task < end; ++task) {
      const int64_t t = task / tasks_per_token;
      const int h = static_cast<int>(task % tasks_per_token) * per_task;  // its first head
      const int kv_offset = (h / group) * head_dim;
      const TokenPlace& place = places[t];
      const int32_t length = place.position + 1;
      const auto blocks = static_cast<size_t>((length + bs - 1) / bs);
      key_blocks.resize(blocks);
      value_blocks.resize(blocks);
      for (size_t b = 0; b < blocks; ++b) {
        key_blocks[b] = layer.key_block(place.block_table[b]) + kv_offset * bs;
        value_blocks[b] = layer.value_block(place.block_table[b], kv_offset);
      }
      const int64_t at = t * q_stride + h * head_dim;
      attend(q + at, per_task, key_blocks.data(), value_blocks.data(), bs, head_dim, length,
             head_dim, shape.scale, scores.data(), max.data(), sum.data(), out + at);
    }
  });
}

}  // namespace troupe
