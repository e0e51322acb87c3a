#include "kernels/cpu/fused_quantize.hpp"

#include <algorithm>

#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/kernel_table.hpp"

namespace troupe {

namespace {

// Values made and quantized a chunk at a time: the float vector goes no further than L1, and one
// quantizer call takes 32 blocks, whose chains of reductions the out-of-order core overlaps (a
// call per block waited on each block's chain: 3x the time, troupe-micro quantize_activations).
constexpr int64_t kChunk = 32 * kQK;

}  // namespace

void rms_norm_quantize(const float* x, const float* weight, float eps, int64_t n,
                       ActivationBlock* out) {
  const float scale = rms_scale(x, eps, n);
  const KernelTable& k = kernels();
  float chunk[kChunk];
  for (int64_t first = 0; first < n; first += kChunk) {
    const int64_t count = std::min(kChunk, n - first);
    for (int64_t i = 0; i < count; ++i) chunk[i] = x[first + i] * scale * weight[first + i];
    k.quantize_activations(chunk, out + first / kQK, count);
  }
}

void silu_mul_quantize(float* gate, const float* up, int64_t n, ActivationBlock* out) {
  const KernelTable& k = kernels();
  for (int64_t first = 0; first < n; first += kChunk) {
    const int64_t count = std::min(kChunk, n - first);
    k.silu_mul(gate + first, up + first, count);  // in place: no copy into the chunk
    k.quantize_activations(gate + first, out + first / kQK, count);
  }
}

}  // namespace troupe
