#pragma once
// exp(x) in single precision by range reduction to 2^n * e^b, |b| <= ln2/2, and a degree-5
// minimax polynomial: the approximation of Arm's optimized-routines that llama.cpp's SIMD
// kernels use for SiLU and softmax. troupe uses the same one so that its activations agree with
// the reference bit for bit instead of drifting by an ulp that 8-bit re-quantization amplifies;
// it is also branch-free, so loops over it vectorize. Relative error below 2 ulp.
#include <cmath>

namespace troupe {

inline float fast_exp(float x) {
  const float shifter = 0x1.8p23f;  // adding it rounds to an integer in the low mantissa bits
  const float n = std::fma(x, 0x1.715476p+0f, shifter) - shifter;  // round(x / ln2)
  // b = x - n * ln2, with ln2 split in two parts for precision.
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  const float b2 = b * b;
  const float p = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), b2,
                                    std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           b2, std::fma(0x1.ffffecp-1f, b, 1.0f));
  if (std::fabs(n) > 192) return n <= 0 ? 0.0f : INFINITY;
  return std::ldexp(p, static_cast<int>(n));
}

}  // namespace troupe
