// The scalar reference of the integer dot products and the activation quantizer: plain C++ that
// every SIMD variant is tested against, and what a CPU without AVX2 runs.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/half.hpp"
#include "kernels/cpu/kernel_variants.hpp"

namespace troupe::scalar {

void quantize_activations(const float* x, ActivationBlock* out, int64_t elements) {
  // The values round as llama.cpp's Q8_0/Q8_1 activations do (half to even), but the scale and
  // the sum stay floats, where llama.cpp rounds them to halves.
  for (int64_t b = 0; b < elements / kQK; ++b, x += kQK) {
    ActivationBlock& block = out[b];
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float inv = amax != 0 ? 127.0f / amax : 0.0f;
    int isum = 0;
    for (int j = 0; j < kQK; ++j) {
      const int q = static_cast<int>(std::nearbyint(x[j] * inv));
      block.qs[j] = static_cast<int8_t>(q);
      isum += q;
    }
    block.d = amax / 127.0f;
    block.sum = block.d * static_cast<float>(isum);
    block.offset = -128 * isum;
  }
}

float dot_q4_0(const BlockQ4_0* w, const ActivationBlock* x, int64_t blocks) {
  float sum = 0;
  for (int64_t i = 0; i < blocks; ++i) {
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
  for (int64_t i = 0; i < blocks; ++i) {
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
  for (int64_t i = 0; i < blocks; ++i) {
    int isum = 0;
    for (int j = 0; j < kQK; ++j) isum += w[i].qs[j] * x[i].qs[j];
    sum += half_to_float(w[i].d) * x[i].d * static_cast<float>(isum);
  }
  return sum;
}

float dot_f32(const float* a, const float* b, int64_t n) {
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace troupe::scalar
