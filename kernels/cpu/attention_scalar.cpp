// The scalar reference of the attention kernels, in the arithmetic of llama.cpp's tiled flash
// attention on x86 (its simd_gemm): every score and every output value is one chain of fused
// multiply-adds in dimension or position order. The SIMD variant equals this one bit for bit, and
// the engine's results, checked against llama.cpp's, differ from them by real differences, not
// summation noise that the model's 8-bit activations would amplify.
#include <cmath>

#include "kernels/cpu/half.hpp"
#include "kernels/cpu/kernel_variants.hpp"

namespace troupe::scalar {

void attention_scores(const float* q, int queries, const uint16_t* const* key_blocks,
                      int block_size, int first, int count, int head_dim, float scale, float* out,
                      LineQueue& /*ahead: asked for by the SIMD variants only*/) {
  for (int g = 0; g < queries; ++g) {
    const float* query = q + g * head_dim;
    for (int i = 0; i < count; ++i) {
      const int p = first + i;
      const uint16_t* key = key_blocks[p / block_size] + p % block_size;
      float dot = 0.0f;
      for (int d = 0; d < head_dim; ++d) {
        dot = std::fma(query[d], half_to_float(key[d * block_size]), dot);
      }
      out[g * kAttentionTile + i] = dot * scale;
    }
  }
}

void attention_values(const float* weight, int queries, const uint16_t* const* value_blocks,
                      int block_size, int row_stride, int first, int count, int head_dim,
                      float* out, LineQueue& /*ahead: asked for by the SIMD variants only*/) {
  for (int g = 0; g < queries; ++g) {
    float* acc = out + g * head_dim;
    for (int i = 0; i < count; ++i) {
      const int p = first + i;
      const uint16_t* row = value_blocks[p / block_size] + (p % block_size) * row_stride;
      const float w = weight[g * kAttentionTile + i];
      for (int d = 0; d < head_dim; ++d) acc[d] = std::fma(w, half_to_float(row[d]), acc[d]);
    }
  }
}

bool attention_asks_ahead(int /*block_size*/, int /*head_dim*/) {
  return false;
}

}  // namespace troupe::scalar
