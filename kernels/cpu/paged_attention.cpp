#include "kernels/cpu/paged_attention.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/half.hpp"
#include "kernels/cpu/kernel_table.hpp"

namespace troupe {
namespace {

// Scores of positions 0..length-1 of one sequence for one head.
void head_scores(const PagedKvLayer& layer, const int32_t* block_table, int kv_offset,
                 const float* q, int length, int head_dim, float scale, float* scores) {
  const int bs = layer.block_size;
  for (int first = 0; first < length; first += bs) {
    const uint16_t* keys = layer.key_block(block_table[first / bs]) + kv_offset * bs;
    const int count = std::min(bs, length - first);
    kernels().attention_scores(q, keys, bs, count, head_dim, scale, scores + first);
  }
}

}  // namespace

namespace {

// Dimension 0 of a token's key in its (transposed) cache block: dimension i is at [i * block_size].
uint16_t* key_slot(const PagedKvLayer& layer, const TokenPlace& place) {
  const int bs = layer.block_size;
  return layer.key_block(place.block_table[place.position / bs]) + place.position % bs;
}

void store_halves(const float* x, int n, uint16_t* out, int stride) {
  for (int i = 0; i < n; ++i) out[i * stride] = float_to_half(x[i]);
}

}  // namespace

void store_kv(const PagedKvLayer& layer, const TokenPlace& place, const float* key,
              const float* value) {
  store_halves(key, layer.kv_dim, key_slot(layer, place), layer.block_size);
  store_halves(value, layer.kv_dim, layer.value_slot(place.block_table, place.position), 1);
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
  store_halves(value, layer.kv_dim, layer.value_slot(place.block_table, place.position), 1);
}

void paged_attention(ThreadPool& pool, const AttentionShape& shape, const PagedKvLayer& layer,
                     const float* q, const TokenPlace* places, int64_t tokens, float* out) {
  const int group = shape.heads / shape.kv_heads;  // query heads sharing one KV head (GQA)
  const int head_dim = shape.head_dim;
  const int64_t q_stride = static_cast<int64_t>(shape.heads) * head_dim;
  pool.parallel_for(tokens * shape.heads, [&](int64_t begin, int64_t end) {
    std::vector<float> scores;
    std::vector<float> query(static_cast<size_t>(head_dim));
    std::vector<const uint16_t*> value_rows;
    for (int64_t task = begin; task < end; ++task) {
      const int64_t t = task / shape.heads;
      const int h = static_cast<int>(task % shape.heads);
      const int kv_offset = (h / group) * head_dim;
      const TokenPlace& place = places[t];
      // Queries and attention weights meet the F16 cache as halves, as in llama.cpp, so the
      // two engines round alike.
      const float* q_row = q + t * q_stride + h * head_dim;
      for (int i = 0; i < head_dim; ++i) {
        query[static_cast<size_t>(i)] = half_to_float(float_to_half(q_row[i]));
      }
      const int32_t length = place.position + 1;
      scores.resize(static_cast<size_t>(length));
      head_scores(layer, place.block_table, kv_offset, query.data(), length, head_dim, shape.scale,
                  scores.data());
      softmax(scores.data(), length);
      value_rows.resize(static_cast<size_t>(length));
      for (int32_t p = 0; p < length; ++p) {
        auto& s = scores[static_cast<size_t>(p)];
        s = half_to_float(float_to_half(s));
        value_rows[static_cast<size_t>(p)] = layer.value_slot(place.block_table, p) + kv_offset;
      }
      kernels().attention_values(scores.data(), value_rows.data(), length, head_dim,
                                 out + t * q_stride + h * head_dim);
    }
  });
}

}  // namespace troupe
