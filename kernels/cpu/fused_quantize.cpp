#include "kernels/cpu/fused_quantize.hpp"

#include <algorithm>

#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/kernel_table.hpp"

namespace troupe {

void rms_norm_quantize(const float* x, const float* weight, float eps, int64_t n,
                       ActivationBlock* out) {
  const float scale = rms_scale(x, eps, n);
  const KernelTable& k = kernels();
  float block[kQK];  // one block of the normalized vector, in registers or L1 only
  for (int64_t b = 0; b < n / kQK; ++b) {
    for (int j = 0; j < kQK; ++j) {
      const int64_t i = b * kQK + j;
      block[j] = x[i] * scale * weight[i];
    }
    k.quantize_activations(block, out + b, kQK);
  }
}

void silu_mul_quantize(const float* gate, const float* up, int64_t n, ActivationBlock* out) {
  const KernelTable& k = kernels();
  float block[kQK];
  for (int64_t b = 0; b < n / kQK; ++b) {
    std::copy_n(gate + b * kQK, kQK, block);
    k.silu_mul(block, up + b * kQK, kQK);
    k.quantize_activations(block, out + b, kQK);
  }
}

}  // namespace troupe
