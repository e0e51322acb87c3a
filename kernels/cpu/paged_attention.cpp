#include "kernels/cpu/paged_attention.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/half.hpp"

#if defined(__AVX2__) && defined(__F16C__)
#include <immintrin.h>
#endif

namespace troupe {
namespace {

// Sums are ordered as llama.cpp orders them in its F16 matrix products on this machine class
// (one 16-lane accumulator, then AVX-512's fixed horizontal reduction): the engine's results are
// checked against llama.cpp's, and with the same order the comparison measures real
// differences, not summation noise that the model's 8-bit activations would amplify.
constexpr int kLanes = 16;

float dot_f32_f16(const float* a, const uint16_t* b, int n) {
  float lanes[kLanes] = {};
  int i = 0;
#if defined(__AVX2__) && defined(__F16C__)
  __m256 acc_lo = _mm256_setzero_ps(), acc_hi = _mm256_setzero_ps();
  for (; i + kLanes <= n; i += kLanes) {
    const __m128i* bp = reinterpret_cast<const __m128i*>(b + i);
    acc_lo = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_cvtph_ps(_mm_loadu_si128(bp)), acc_lo);
    acc_hi = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_cvtph_ps(_mm_loadu_si128(bp + 1)),
                             acc_hi);
  }
  _mm256_storeu_ps(lanes, acc_lo);
  _mm256_storeu_ps(lanes + 8, acc_hi);
#endif
  for (; i < n; ++i) lanes[i % kLanes] = std::fma(a[i], half_to_float(b[i]), lanes[i % kLanes]);
  return reduce_16_lanes(lanes);
}

// partial += weight * v, for the partial sums of one position lane.
void accumulate_f16(float* partial, float weight, const uint16_t* v, int n) {
  int i = 0;
#if defined(__AVX2__) && defined(__F16C__)
  const __m256 w = _mm256_set1_ps(weight);
  for (; i + 8 <= n; i += 8) {
    const __m256 vf = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + i)));
    _mm256_storeu_ps(partial + i, _mm256_fmadd_ps(w, vf, _mm256_loadu_ps(partial + i)));
  }
#endif
  for (; i < n; ++i) partial[i] = std::fma(weight, half_to_float(v[i]), partial[i]);
}

}  // namespace

void store_kv(const PagedKvLayer& layer, const TokenPlace& place, const float* key,
              const float* value) {
  uint16_t* k = layer.key_slot(place.block_table, place.position);
  uint16_t* v = layer.value_slot(place.block_table, place.position);
  for (int i = 0; i < layer.kv_dim; ++i) {
    k[i] = float_to_half(key[i]);
    v[i] = float_to_half(value[i]);
  }
}

void paged_attention(ThreadPool& pool, const AttentionShape& shape, const PagedKvLayer& layer,
                     const float* q, const TokenPlace* places, int64_t tokens, float* out) {
  const int group = shape.heads / shape.kv_heads;  // query heads sharing one KV head (GQA)
  const int64_t q_stride = static_cast<int64_t>(shape.heads) * shape.head_dim;
  pool.parallel_for(tokens * shape.heads, [&](int64_t begin, int64_t end) {
    std::vector<float> scores;
    std::vector<float> query(static_cast<size_t>(shape.head_dim));
    std::vector<float> partial;
    for (int64_t task = begin; task < end; ++task) {
      const int64_t t = task / shape.heads;
      const int h = static_cast<int>(task % shape.heads);
      const int kv_offset = (h / group) * shape.head_dim;
      const TokenPlace& place = places[t];
      // Queries and attention weights meet the F16 cache as halves, as in llama.cpp, so the
      // two engines round alike.
      const float* q_row = q + t * q_stride + h * shape.head_dim;
      for (int i = 0; i < shape.head_dim; ++i) {
        query[static_cast<size_t>(i)] = half_to_float(float_to_half(q_row[i]));
      }
      const float* qh = query.data();
      float* oh = out + t * q_stride + h * shape.head_dim;

      const int32_t length = place.position + 1;
      scores.resize(static_cast<size_t>(length));
      for (int32_t p = 0; p < length; ++p) {
        const uint16_t* k = layer.key_slot(place.block_table, p) + kv_offset;
        scores[static_cast<size_t>(p)] = dot_f32_f16(qh, k, shape.head_dim) * shape.scale;
      }
      softmax(scores.data(), length);
      // Position p accumulates into lane p % 16; the lanes are reduced as dot_f32_f16 does.
      const auto head_dim = static_cast<size_t>(shape.head_dim);
      partial.assign(kLanes * head_dim, 0.0f);
      for (int32_t p = 0; p < length; ++p) {
        const uint16_t* v = layer.value_slot(place.block_table, p) + kv_offset;
        const float weight = half_to_float(float_to_half(scores[static_cast<size_t>(p)]));
        accumulate_f16(partial.data() + static_cast<size_t>(p % kLanes) * head_dim, weight, v,
                       shape.head_dim);
      }
      reduce_16_lane_rows(partial.data(), shape.head_dim, oh);
    }
  });
}

}  // namespace troupe
