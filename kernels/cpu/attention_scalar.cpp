// The scalar reference of the attention kernels, in the arithmetic of llama.cpp's tiled flash
// attention on x86 (its simd_gemm): every score and every output value is one chain of fused
// multiply-adds in dimension or position order. The SIMD variant equals this one bit for bit, and
// the engine's results, checked against llama.cpp's, differ from them by real differences, not
// summation noise that the model's 8-bit activations would amplify.
#include <cmath>

#include "kernels/cpu/half.hpp"
#include "kernels/cpu/kernel_variants.hpp"

namespace troupe::scalar {

void attention_scores(const float* q, const uint16_t* const* key_blocks, int block_size, int first,
                      int count, int head_dim, float scale, float* out) {
  for (int p = first; p < first + count; ++p) {
    const uint16_t* key = key_blocks[p / block_size] + p % block_size;
    float dot = 0.0f;
    for (int i = 0; i < head_dim; ++i) dot = std::fma(q[i], half_to_float(key[i * block_size]), dot);
    *out++ = dot * scale;
  }
}

void attention_values(const float* weight, const uint16_t* const* value_rows, int length,
                      int head_dim, float* out) {
  for (int p = 0; p < length; ++p) {
    for (int d = 0; d < head_dim; ++d) {
      out[d] = std::fma(weight[p], half_to_float(value_rows[p][d]), out[d]);
    }
  }
}

}  // namespace troupe::scalar
