// The scalar reference of the element-wise kernels that have SIMD variants.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/fast_exp.hpp"
#include "kernels/cpu/kernel_variants.hpp"

namespace troupe::scalar {

void silu_mul(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + fast_exp(-g)) * up[i];
  }
}

double exp_shifted_sum(float* x, int64_t n, float max) {
  // Sixteen-wide partial sums, reduced as llama.cpp's AVX-512 softmax reduces them, then added
  // in double: the same total to the last bit.
  double sum = 0;
  for (int64_t chunk = 0; chunk < n; chunk += 16) {
    float lanes[16] = {};
    for (int64_t i = chunk; i < std::min(n, chunk + 16); ++i) {
      x[i] = fast_exp(x[i] - max);
      lanes[i - chunk] = x[i];
    }
    sum += reduce_16_lanes(lanes);
  }
  return sum;
}

void softmax_tile(float* scores, int rows, const int* counts, float* max, double* tile_sum) {
  for (int g = 0; g < rows; ++g) {
    float* row = scores + g * kAttentionTile;
    float m = max[g];
    for (int i = 0; i < counts[g]; ++i) m = std::fmax(m, row[i]);
    max[g] = m;
    tile_sum[g] = exp_shifted_sum(row, counts[g], m);
  }
}

int64_t argmax(const float* x, int64_t n) {
  int64_t at = 0;
  float best = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    if (x[i] > best) {
      best = x[i];
      at = i;
    }
  }
  return at;
}

void round_to_bf16(const float* x, uint16_t* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, x + i, sizeof bits);
    const bool nan = (bits & 0x7fffffffu) > 0x7f800000u;
    out[i] = nan ? static_cast<uint16_t>((bits >> 16) | kQuietBf16)
                 : static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
  }
}

}  // namespace troupe::scalar
