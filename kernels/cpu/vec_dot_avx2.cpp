// AVX2 integer dot products (maddubs/madd), compiled with -mavx2 -mfma -mf16c and called only on
// CPUs that have them. Their float operations are llama.cpp's AVX2 vec_dot's, in its order.
#include <immintrin.h>

#include "kernels/cpu/kernel_variants.hpp"
#include "kernels/cpu/simd_half.hpp"

namespace troupe::avx2 {
namespace {

using simd::half_to_float;

// llama.cpp's horizontal sum order.
float horizontal_sum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

// 32 unsigned 4-bit values of a block, element j at byte j: low nibbles are elements 0-15,
// high nibbles 16-31.
__m256i unpack_nibbles(const uint8_t* qs) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0f);
  const __m128i lo = _mm_and_si128(bytes, mask);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
  return _mm256_set_m128i(hi, lo);
}

// Sum of products of 32 unsigned bytes with 32 signed bytes, as 8 float lanes.
__m256 dot_u8_s8(__m256i u, __m256i s) {
  const __m256i pairs = _mm256_maddubs_epi16(u, s);
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

__m256i load_activations(const ActivationBlock& a) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs));
}

}  // namespace

float dot_q4_0(const BlockQ4_0* w, const ActivationBlock* x, int64_t blocks) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < blocks; ++i) {
    const __m256i q = _mm256_sub_epi8(unpack_nibbles(w[i].qs), _mm256_set1_epi8(8));
    const __m256i a = load_activations(x[i]);
    // maddubs wants its first operand unsigned: move q's sign onto a.
    const __m256 p = dot_u8_s8(_mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(w[i].d) * x[i].d), p, acc);
  }
  return horizontal_sum(acc);
}

float dot_q4_1(const BlockQ4_1* w, const ActivationBlock* x, int64_t blocks) {
  float sum = 0;
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < blocks; ++i) {
    const __m256i q = unpack_nibbles(w[i].qs);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(w[i].d) * x[i].d),
                          dot_u8_s8(q, load_activations(x[i])), acc);
    // One fused step, written out: left to the compiler, the two kernels could contract
    // differently, and a batch would change a result.
    sum = __builtin_fmaf(half_to_float(w[i].m), x[i].sum, sum);
  }
  return sum + horizontal_sum(acc);
}

float dot_q8_0(const BlockQ8_0* w, const ActivationBlock* x, int64_t blocks) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < blocks; ++i) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qs));
    const __m256i a = load_activations(x[i]);
    const __m256 p = dot_u8_s8(_mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(w[i].d) * x[i].d), p, acc);
  }
  return horizontal_sum(acc);
}

void dot_q4_1_2x4(const BlockQ4_1* const rows[2], const ActivationBlock* const x[4], int64_t blocks,
                  float out[2][4]) {
  __m256 acc[2][4];
  float sums[2][4] = {};
  for (auto& row : acc) {
    for (auto& a : row) a = _mm256_setzero_ps();
  }
  for (int64_t i = 0; i < blocks; ++i) {
    __m256i q[2];
    float d[2], m[2];
    for (int r = 0; r < 2; ++r) {
      q[r] = unpack_nibbles(rows[r][i].qs);
      d[r] = half_to_float(rows[r][i].d);
      m[r] = half_to_float(rows[r][i].m);
    }
    for (int t = 0; t < 4; ++t) {
      const ActivationBlock& a = x[t][i];
      const __m256i qa = load_activations(a);
      for (int r = 0; r < 2; ++r) {
        // The same operations in the same order as dot_q4_1, per (row, token).
        acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(d[r] * a.d), dot_u8_s8(q[r], qa), acc[r][t]);
        sums[r][t] = __builtin_fmaf(m[r], a.sum, sums[r][t]);
      }
    }
  }
  for (int r = 0; r < 2; ++r) {
    for (int t = 0; t < 4; ++t) out[r][t] = sums[r][t] + horizontal_sum(acc[r][t]);
  }
}

float dot_f32(const float* a, const float* b, int64_t n) {
  int64_t i = 0;
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  float sum = horizontal_sum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace troupe::avx2
