#pragma once
// fast_exp (fast_exp.hpp) on 16 lanes, equal to the scalar one bit for bit. For the AVX-512
// variant files only; internal linkage, so no copy of it is shared with other files.
#include <cmath>  // INFINITY, a macro

#include "kernels/cpu/avx512.hpp"
#include "kernels/cpu/fast_exp_constants.hpp"

namespace troupe::avx512 {
namespace {

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

}  // namespace
}  // namespace troupe::avx512
