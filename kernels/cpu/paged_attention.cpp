#include "kernels/cpu/paged_attention.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/avx512.hpp"  // last: it turns warnings off
#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/half.hpp"

namespace troupe {
namespace {

// Sums are ordered as llama.cpp orders them in its F16 matrix products on this machine class
// (one 16-lane accumulator, then AVX-512's fixed horizontal reduction): the engine's results are
// checked against llama.cpp's, and with the same order the comparison measures real
// differences, not summation noise that the model's 8-bit activations would amplify.
constexpr int kLanes = 16;

// Scores of the first `count` slots of one block for one head: each the dot of q
// with the slot's key, dimension i summed into lane i % 16, the lanes reduced as
// reduce_16_lanes does, then scaled. `keys` is the head's first key dimension in the block.
void scores_scalar(const float* q, const uint16_t* keys, int block_size, int count, int head_dim,
                   float scale, float* out) {
  for (int s = 0; s < count; ++s) {
    float lanes[kLanes] = {};
    for (int i = 0; i < head_dim; ++i) {
      lanes[i % kLanes] =
          std::fma(q[i], half_to_float(keys[i * block_size + s]), lanes[i % kLanes]);
    }
    *out++ = reduce_16_lanes(lanes) * scale;
  }
}

// out[d] = sum over positions of weight[p] * value_rows[p][d], position p summed into lane p % 16,
// the lanes reduced as reduce_16_lanes does. `partial` is scratch of 16 * head_dim floats.
void weighted_values_scalar(const float* weight, const uint16_t* const* value_rows, int length,
                            int head_dim, float* partial, float* out) {
  std::fill_n(partial, kLanes * head_dim, 0.0f);
  for (int p = 0; p < length; ++p) {
    float* lane = partial + (p % kLanes) * head_dim;
    for (int d = 0; d < head_dim; ++d) {
      lane[d] = std::fma(weight[p], half_to_float(value_rows[p][d]), lane[d]);
    }
  }
  reduce_16_lane_rows(partial, head_dim, out);
}

#if defined(__AVX512F__)
// reduce_16_lanes for 16 columns at once.
__m512 reduce_16_vectors(const __m512 v[kLanes]) {
  __m512 half[8], quarter[4];
  for (int k = 0; k < 8; ++k) half[k] = _mm512_add_ps(v[k + 8], v[k]);
  for (int k = 0; k < 4; ++k) quarter[k] = _mm512_add_ps(half[k + 4], half[k]);
  return _mm512_add_ps(_mm512_add_ps(quarter[0], quarter[2]),
                       _mm512_add_ps(quarter[1], quarter[3]));
}

// scores_scalar for the 16 slots from `slot` (a multiple of 16), one slot per vector lane.
void scores_16(const float* q, const uint16_t* keys, int block_size, int slot, int head_dim,
               float scale, float* out) {
  __m512 lanes[kLanes];
  for (auto& l : lanes) l = _mm512_setzero_ps();
  for (int i0 = 0; i0 < head_dim; i0 += kLanes) {
#pragma GCC unroll 16
    for (int l = 0; l < kLanes; ++l) {
      if (i0 + l >= head_dim) break;
      const uint16_t* k = keys + (i0 + l) * block_size + slot;
      const __m512 kf = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(k)));
      lanes[l] = _mm512_fmadd_ps(_mm512_set1_ps(q[i0 + l]), kf, lanes[l]);
    }
  }
  _mm512_storeu_ps(out, _mm512_mul_ps(reduce_16_vectors(lanes), _mm512_set1_ps(scale)));
}

// weighted_values_scalar for a head_dim that is a multiple of 16: 16 dimensions at a time, the
// 16 position lanes in registers.
void weighted_values_16(const float* weight, const uint16_t* const* value_rows, int length,
                        int head_dim, float* out) {
  for (int d = 0; d < head_dim; d += kLanes) {
    __m512 lanes[kLanes];
    for (auto& l : lanes) l = _mm512_setzero_ps();
    for (int p0 = 0; p0 < length; p0 += kLanes) {
#pragma GCC unroll 16
      for (int l = 0; l < kLanes; ++l) {
        const int p = p0 + l;
        if (p >= length) break;
        const auto* v = reinterpret_cast<const __m256i*>(value_rows[p] + d);
        lanes[l] = _mm512_fmadd_ps(_mm512_set1_ps(weight[p]),
                                   _mm512_cvtph_ps(_mm256_loadu_si256(v)), lanes[l]);
      }
    }
    _mm512_storeu_ps(out + d, reduce_16_vectors(lanes));
  }
}
#endif

// Scores of positions 0..length-1 of one sequence for one head.
void head_scores(const PagedKvLayer& layer, const int32_t* block_table, int kv_offset,
                 const float* q, int length, int head_dim, float scale, float* scores) {
  const int bs = layer.block_size;
  for (int first = 0; first < length; first += bs) {
    const uint16_t* keys = layer.key_block(block_table[first / bs]) + kv_offset * bs;
    const int count = std::min(bs, length - first);
#if defined(__AVX512F__)
    if (bs % kLanes == 0) {
      for (int slot = 0; slot < count; slot += kLanes) {
        if (slot + kLanes <= count) {
          scores_16(q, keys, bs, slot, head_dim, scale, scores + first + slot);
        } else {  // the block's last, partly filled slots: computed whole, kept in part
          float tail[kLanes];
          scores_16(q, keys, bs, slot, head_dim, scale, tail);
          std::copy_n(tail, count - slot, scores + first + slot);
        }
      }
      continue;
    }
#endif
    scores_scalar(q, keys, bs, count, head_dim, scale, scores + first);
  }
}

}  // namespace

void store_kv(const PagedKvLayer& layer, const TokenPlace& place, const float* key,
              const float* value) {
  const int bs = layer.block_size;
  uint16_t* k = layer.key_block(place.block_table[place.position / bs]) + place.position % bs;
  uint16_t* v = layer.value_slot(place.block_table, place.position);
  for (int i = 0; i < layer.kv_dim; ++i) {
    k[i * bs] = float_to_half(key[i]);
    v[i] = float_to_half(value[i]);
  }
}

void paged_attention(ThreadPool& pool, const AttentionShape& shape, const PagedKvLayer& layer,
                     const float* q, const TokenPlace* places, int64_t tokens, float* out) {
  const int group = shape.heads / shape.kv_heads;  // query heads sharing one KV head (GQA)
  const int head_dim = shape.head_dim;
  const int64_t q_stride = static_cast<int64_t>(shape.heads) * head_dim;
  pool.parallel_for(tokens * shape.heads, [&](int64_t begin, int64_t end) {
    std::vector<float> scores;
    std::vector<float> query(static_cast<size_t>(head_dim));
    std::vector<float> partial(static_cast<size_t>(kLanes * head_dim));
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
      float* oh = out + t * q_stride + h * head_dim;
#if defined(__AVX512F__)
      if (head_dim % kLanes == 0) {
        weighted_values_16(scores.data(), value_rows.data(), length, head_dim, oh);
        continue;
      }
#endif
      weighted_values_scalar(scores.data(), value_rows.data(), length, head_dim, partial.data(),
                             oh);
    }
  });
}

}  // namespace troupe
