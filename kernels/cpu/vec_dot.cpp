#include "kernels/cpu/vec_dot.hpp"

#include <cmath>
#include <stdexcept>

#include "kernels/cpu/avx2_blocks.hpp"
#include "kernels/cpu/half.hpp"

#if defined(__AVX2__)
#include <immintrin.h>
#endif
#include "kernels/cpu/avx512.hpp"

namespace troupe {
namespace {

#if defined(__AVX2__)
using avx2::horizontal_sum;
using avx2::unpack_nibbles;

// Sum of products of 32 unsigned bytes with 32 signed bytes, as 8 float lanes.
__m256 dot_u8_s8(__m256i u, __m256i s) {
  const __m256i pairs = _mm256_maddubs_epi16(u, s);
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}
#endif

float dot_q4_0(const BlockQ4_0* w, const ActivationBlock* x, int64_t blocks) {
  float sum = 0;
  int64_t i = 0;
#if defined(__AVX2__)
  __m256 acc = _mm256_setzero_ps();
  for (; i < blocks; ++i) {
    const __m256i q = _mm256_sub_epi8(unpack_nibbles(w[i].qs), _mm256_set1_epi8(8));
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs));
    const __m256 p = dot_u8_s8(_mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(w[i].d) * x[i].d), p, acc);
  }
  sum += horizontal_sum(acc);
#endif
  for (; i < blocks; ++i) {
    int isum = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      isum += ((w[i].qs[j] & 0xf) - 8) * x[i].qs[j];
      isum += ((w[i].qs[j] >> 4) - 8) * x[i].qs[j + kQK / 2];
    }
    sum += half_to_float(w[i].d) * x[i].d * static_cast<float>(isum);
  }
  return sum;
}

float dot_q4_1(const BlockQ4_1* w, const ActivationBlock* x, int64_t blocks) {
  float sum = 0;
  int64_t i = 0;
#if defined(__AVX2__)
  __m256 acc = _mm256_setzero_ps();
  for (; i < blocks; ++i) {
    const __m256i q = unpack_nibbles(w[i].qs);
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(w[i].d) * x[i].d), dot_u8_s8(q, a), acc);
    sum += half_to_float(w[i].m) * x[i].sum;
  }
  sum += horizontal_sum(acc);
#endif
  for (; i < blocks; ++i) {
    int isum = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      isum += (w[i].qs[j] & 0xf) * x[i].qs[j];
      isum += (w[i].qs[j] >> 4) * x[i].qs[j + kQK / 2];
    }
    sum += half_to_float(w[i].d) * x[i].d * static_cast<float>(isum) +
           half_to_float(w[i].m) * x[i].sum;
  }
  return sum;
}

float dot_q8_0(const BlockQ8_0* w, const ActivationBlock* x, int64_t blocks) {
  float sum = 0;
  int64_t i = 0;
#if defined(__AVX2__)
  __m256 acc = _mm256_setzero_ps();
  for (; i < blocks; ++i) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qs));
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs));
    // maddubs wants its first operand unsigned: move q's sign onto a.
    const __m256 p = dot_u8_s8(_mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(w[i].d) * x[i].d), p, acc);
  }
  sum += horizontal_sum(acc);
#endif
  for (; i < blocks; ++i) {
    int isum = 0;
    for (int j = 0; j < kQK; ++j) isum += w[i].qs[j] * x[i].qs[j];
    sum += half_to_float(w[i].d) * x[i].d * static_cast<float>(isum);
  }
  return sum;
}

}  // namespace

bool has_quantized_dot(DType type) {
  return type == DType::Q4_0 || type == DType::Q4_1 || type == DType::Q8_0;
}

void quantize_activations(const float* x, ActivationBlock* out, int64_t elements) {
  // The rounding follows llama.cpp's Q8_0/Q8_1 activations exactly (scale and sum stored as
  // halves, values rounded half to even), so both engines see the same integers.
  for (int64_t b = 0; b < elements / kQK; ++b, x += kQK) {
    ActivationBlock& block = out[b];
#if defined(__AVX512F__) && defined(__AVX512BW__)
    const __m512 lo = _mm512_loadu_ps(x), hi = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(lo), _mm512_abs_ps(hi)));
    const float inv = amax != 0 ? 127.0f / amax : 0.0f;
    // Rounding to nearest even, as nearbyint does in the default rounding mode.
    const __m512i qlo = _mm512_cvtps_epi32(_mm512_mul_ps(lo, _mm512_set1_ps(inv)));
    const __m512i qhi = _mm512_cvtps_epi32(_mm512_mul_ps(hi, _mm512_set1_ps(inv)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(block.qs), _mm512_cvtepi32_epi8(qlo));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(block.qs + 16), _mm512_cvtepi32_epi8(qhi));
    const int isum = _mm512_reduce_add_epi32(_mm512_add_epi32(qlo, qhi));
#else
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float inv = amax != 0 ? 127.0f / amax : 0.0f;
    int isum = 0;
    for (int j = 0; j < kQK; ++j) {
      const int q = static_cast<int>(std::nearbyint(x[j] * inv));
      block.qs[j] = static_cast<int8_t>(q);
      isum += q;
    }
#endif
    const float d = amax / 127.0f;
    block.d = half_to_float(float_to_half(d));
    block.sum = half_to_float(float_to_half(d * static_cast<float>(isum)));
    for (int j = 0; j < kQK / 4; ++j) {
      const int8_t* q = block.qs + 4 * j;
      block.offsets[j] = -128 * (q[0] + q[1] + q[2] + q[3]);
    }
  }
}

float dot_quantized(DType type, const std::byte* row, const ActivationBlock* x, int64_t elements) {
  const int64_t blocks = elements / kQK;
  switch (type) {
    case DType::Q4_0:
      return dot_q4_0(reinterpret_cast<const BlockQ4_0*>(row), x, blocks);
    case DType::Q4_1:
      return dot_q4_1(reinterpret_cast<const BlockQ4_1*>(row), x, blocks);
    case DType::Q8_0:
      return dot_q8_0(reinterpret_cast<const BlockQ8_0*>(row), x, blocks);
    default:
      throw std::logic_error("dot_quantized: type has no integer dot product");
  }
}

bool dot_q4_1_2x4(const std::byte* const rows[2], const ActivationBlock* const x[4],
                  int64_t elements, float out[2][4]) {
#if defined(__AVX2__)
  const auto* w0 = reinterpret_cast<const BlockQ4_1*>(rows[0]);
  const auto* w1 = reinterpret_cast<const BlockQ4_1*>(rows[1]);
  __m256 acc[2][4];
  float sums[2][4] = {};
  for (auto& row : acc) {
    for (auto& a : row) a = _mm256_setzero_ps();
  }
  for (int64_t i = 0; i < elements / kQK; ++i) {
    const BlockQ4_1* blocks[2] = {w0 + i, w1 + i};
    __m256i q[2];
    float d[2], m[2];
    for (int r = 0; r < 2; ++r) {
      q[r] = unpack_nibbles(blocks[r]->qs);
      d[r] = half_to_float(blocks[r]->d);
      m[r] = half_to_float(blocks[r]->m);
    }
    for (int t = 0; t < 4; ++t) {
      const ActivationBlock& a = x[t][i];
      const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs));
      for (int r = 0; r < 2; ++r) {
        // The same operations in the same order as dot_q4_1, per (row, token).
        acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(d[r] * a.d), dot_u8_s8(q[r], qa), acc[r][t]);
        sums[r][t] += m[r] * a.sum;
      }
    }
  }
  for (int r = 0; r < 2; ++r) {
    for (int t = 0; t < 4; ++t) out[r][t] = sums[r][t] + horizontal_sum(acc[r][t]);
  }
  return true;
#else
  return false;
#endif
}

float dot_f32(const float* a, const float* b, int64_t n) {
  int64_t i = 0;
  float sum = 0;
#if defined(__AVX2__)
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  sum = horizontal_sum(_mm256_add_ps(acc0, acc1));
#endif
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace troupe
