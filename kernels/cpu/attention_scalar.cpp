// The scalar reference of the attention kernels. Sums are ordered as llama.cpp orders them in its
// F16 matrix products on AVX-512 machines (one 16-lane accumulator, then AVX-512's fixed
// horizontal reduction), so the SIMD variant equals this one bit for bit, and the engine's
// results, checked against llama.cpp's, differ from them by real differences, not summation noise
// that the model's 8-bit activations would amplify.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/half.hpp"
#include "kernels/cpu/kernel_variants.hpp"

namespace troupe::scalar {
namespace {
constexpr int kLanes = 16;
}  // namespace

void attention_scores(const float* q, const uint16_t* keys, int block_size, int count, int head_dim,
                      float scale, float* out) {
  for (int s = 0; s < count; ++s) {
    float lanes[kLanes] = {};
    for (int i = 0; i < head_dim; ++i) {
      lanes[i % kLanes] =
          std::fma(q[i], half_to_float(keys[i * block_size + s]), lanes[i % kLanes]);
    }
    *out++ = reduce_16_lanes(lanes) * scale;
  }
}

void attention_values(const float* weight, const uint16_t* const* value_rows, int length,
                      int head_dim, float* out) {
  thread_local std::vector<float> partial;  // 16 lanes of head_dim sums
  partial.assign(static_cast<size_t>(kLanes * head_dim), 0.0f);
  for (int p = 0; p < length; ++p) {
    float* lane = partial.data() + (p % kLanes) * head_dim;
    for (int d = 0; d < head_dim; ++d) {
      lane[d] = std::fma(weight[p], half_to_float(value_rows[p][d]), lane[d]);
    }
  }
  reduce_16_lane_rows(partial.data(), head_dim, out);
}

}  // namespace troupe::scalar
