#pragma once
// Half-precision conversions for the AVX2 and AVX-512 variants, by F16C instruction. They have
// internal linkage (unlike half.hpp's, which a portable build compiles without F16C), so no
// copy of them can stand in for another file's.
#if defined(__F16C__)
#include <immintrin.h>

#include <cstdint>

namespace troupe::simd {
namespace {

inline float half_to_float(uint16_t h) {
  return _cvtsh_ss(h);
}
inline uint16_t float_to_half(float f) {
  return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}

}  // namespace
}  // namespace troupe::simd
#endif
