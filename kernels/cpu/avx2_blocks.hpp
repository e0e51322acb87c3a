#pragma once
// AVX2 pieces shared by the dot-product kernels: the horizontal sum whose order matches
// llama.cpp's, and the unpacking of a 4-bit block. Included only by kernels/cpu sources.
#if defined(__AVX2__)
#include <immintrin.h>

#include <cstdint>

namespace troupe::avx2 {

inline float horizontal_sum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

// 32 unsigned 4-bit values of a block, element j at byte j: low nibbles are elements 0-15,
// high nibbles 16-31.
inline __m256i unpack_nibbles(const uint8_t* qs) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0f);
  const __m128i lo = _mm_and_si128(bytes, mask);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
  return _mm256_set_m128i(hi, lo);
}

}  // namespace troupe::avx2
#endif
