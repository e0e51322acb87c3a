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

float dot_f32_f16(const float* a, const uint16_t* b, int n) {
  int i = 0;
  float sum = 0;
#if defined(__AVX2__) && defined(__F16C__)
  __m256 acc = _mm256_setzero_ps();
  for (; i + 8 <= n; i += 8) {
    const __m256 bf = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), bf, acc);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  for (float lane : lanes) sum += lane;
#endif
  for (; i < n; ++i) sum += a[i] * half_to_float(b[i]);
  return sum;
}

// out += weight * v
void accumulate_f16(float* out, float weight, const uint16_t* v, int n) {
  int i = 0;
#if defined(__AVX2__) && defined(__F16C__)
  const __m256 w = _mm256_set1_ps(weight);
  for (; i + 8 <= n; i += 8) {
    const __m256 vf = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + i)));
    _mm256_storeu_ps(out + i, _mm256_fmadd_ps(w, vf, _mm256_loadu_ps(out + i)));
  }
#endif
  for (; i < n; ++i) out[i] += weight * half_to_float(v[i]);
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
    for (int64_t task = begin; task < end; ++task) {
      const int64_t t = task / shape.heads;
      const int h = static_cast<int>(task % shape.heads);
      const int kv_offset = (h / group) * shape.head_dim;
      const TokenPlace& place = places[t];
      const float* qh = q + t * q_stride + h * shape.head_dim;
      float* oh = out + t * q_stride + h * shape.head_dim;

      const int32_t length = place.position + 1;
      scores.resize(static_cast<size_t>(length));
      for (int32_t p = 0; p < length; ++p) {
        const uint16_t* k = layer.key_slot(place.block_table, p) + kv_offset;
        scores[static_cast<size_t>(p)] = dot_f32_f16(qh, k, shape.head_dim) * shape.scale;
      }
      softmax(scores.data(), length);
      std::fill(oh, oh + shape.head_dim, 0.0f);
      for (int32_t p = 0; p < length; ++p) {
        const uint16_t* v = layer.value_slot(place.block_table, p) + kv_offset;
        accumulate_f16(oh, scores[static_cast<size_t>(p)], v, shape.head_dim);
      }
    }
  });
}

}  // namespace troupe
