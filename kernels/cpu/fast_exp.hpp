#pragma once
// exp(x) in single precision by range reduction to 2^n * e^b, |b| <= ln2/2, and a degree-5
// minimax polynomial: the approximation of Arm's optimized-routines that llama.cpp's SIMD
// kernels use for SiLU and softmax. troupe uses the same one so that its activations agree with
// the reference bit for bit instead of drifting by an ulp that 8-bit re-quantization amplifies.
// A scalar and a 16-lane AVX-512 version, equal bit for bit. Relative error below 2 ulp.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/avx512.hpp"

namespace troupe {

namespace fast_exp_constants {
constexpr float kShifter = 0x1.8p23f;  // adding it rounds to an integer in the low mantissa bits
constexpr float kInvLn2 = 0x1.715476p+0f;
constexpr float kLn2High = 0x1.62e4p-1f, kLn2Low = 0x1.7f7d1cp-20f;  // ln2 split for precision
constexpr float kC5 = 0x1.0e4020p-7f, kC4 = 0x1.573e2ep-5f, kC3 = 0x1.555e66p-3f,
                kC2 = 0x1.fffdb6p-2f, kC1 = 0x1.ffffecp-1f;
constexpr float kLimit = 192;  // beyond 2^±192 the result is 0 or infinity
}  // namespace fast_exp_constants

// 2^e for -126 <= e <= 127.
inline float power_of_two(int e) {
  const auto bits = static_cast<uint32_t>(e + 127) << 23;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline float fast_exp(float x) {
  using namespace fast_exp_constants;
  const float n = std::fma(x, kInvLn2, kShifter) - kShifter;  // round(x / ln2)
  const float b = std::fma(-n, kLn2Low, std::fma(-n, kLn2High, x));
  const float b2 = b * b;
  const float p = std::fma(std::fma(std::fma(kC5, b, kC4), b2, std::fma(kC3, b, kC2)), b2,
                           std::fma(kC1, b, 1.0f));
  if (!(std::fabs(n) <= kLimit)) return n < 0 ? 0.0f : (n > 0 ? INFINITY : p);  // NaN: p is NaN
  // p * 2^n as two power-of-two factors that stay normal: the first product is exact, so the
  // one rounding is that of ldexp(p, n).
  const int whole = static_cast<int>(n);
  const int half = whole >> 1;
  return p * power_of_two(half) * power_of_two(whole - half);
}

#if defined(__AVX512F__)
inline __m512 fast_exp(__m512 x) {
  using namespace fast_exp_constants;
  const __m512 shifter = _mm512_set1_ps(kShifter);
  const __m512 n = _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(kInvLn2), shifter), shifter);
  const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Low),
                                    _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2High), x));
  const __m512 b2 = _mm512_mul_ps(b, b);
  const __m512 c1 = _mm512_fmadd_ps(_mm512_set1_ps(kC1), b, _mm512_set1_ps(1.0f));
  const __m512 c3 = _mm512_fmadd_ps(_mm512_set1_ps(kC3), b, _mm512_set1_ps(kC2));
  const __m512 c5 = _mm512_fmadd_ps(_mm512_set1_ps(kC5), b, _mm512_set1_ps(kC4));
  const __m512 p = _mm512_fmadd_ps(_mm512_fmadd_ps(c5, b2, c3), b2, c1);
  const __m512 limit = _mm512_set1_ps(kLimit);
  const __m512i whole = _mm512_cvttps_epi32(_mm512_min_ps(_mm512_max_ps(n, -limit), limit));
  const __m512i half = _mm512_srai_epi32(whole, 1);
  const __m512i bias = _mm512_set1_epi32(127);
  const __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(half, bias), 23));
  const __m512 s2 = _mm512_castsi512_ps(
      _mm512_slli_epi32(_mm512_add_epi32(_mm512_sub_epi32(whole, half), bias), 23));
  __m512 result = _mm512_mul_ps(_mm512_mul_ps(p, s1), s2);
  result =
      _mm512_mask_blend_ps(_mm512_cmp_ps_mask(n, -limit, _CMP_LT_OQ), result, _mm512_setzero_ps());
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(n, limit, _CMP_GT_OQ), result,
                              _mm512_set1_ps(INFINITY));
}
#endif

}  // namespace troupe
