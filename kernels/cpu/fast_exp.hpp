#pragma once
// exp(x) in single precision by range reduction to 2^n * e^b, |b| <= ln2/2, and a degree-5
// minimax polynomial: the approximation of Arm's optimized-routines that llama.cpp's SIMD
// kernels use for SiLU and softmax. troupe uses the same one so that its activations agree with
// the reference bit for bit instead of drifting by an ulp that 8-bit re-quantization amplifies.
// The 16-lane AVX-512 version, equal bit for bit, is fast_exp_avx512.hpp. Relative error below
// 2 ulp.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/fast_exp_constants.hpp"

namespace troupe {

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

}  // namespace troupe
