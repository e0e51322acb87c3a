#include "kernels/cpu/elementwise.hpp"

#include <cmath>

#include "kernels/cpu/kernel_table.hpp"

namespace troupe {

float rms_scale(const float* x, float eps, int64_t n) {
  // Squares in float summed in double, the mean rounded to float: llama.cpp's rounding, which
  // the reference tests compare against. In 8 independent sums rather than llama.cpp's one
  // chain, which waited on each addition (3% of prompt processing); in double, the order
  // changes the float mean only when the sum lies within 2^-29 of a rounding boundary.
  constexpr int kChains = 8;
  double sums[kChains] = {};
  int64_t i = 0;
  for (; i + kChains <= n; i += kChains) {
    for (int k = 0; k < kChains; ++k) sums[k] += static_cast<double>(x[i + k] * x[i + k]);
  }
  for (; i < n; ++i) sums[0] += static_cast<double>(x[i] * x[i]);
  double sum = 0;
  for (double s : sums) sum += s;
  const auto mean = static_cast<float>(sum / static_cast<double>(n));
  return 1.0f / std::sqrt(mean + eps);
}

void rms_norm(const float* x, const float* weight, float eps, int64_t n, float* out) {
  const float scale = rms_scale(x, eps, n);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void silu_mul(float* gate, const float* up, int64_t n) {
  kernels().silu_mul(gate, up, n);
}

void add_in_place(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

float reduce_16_lanes(const float lanes[16]) {
  float half[8], quarter[4];
  for (int k = 0; k < 8; ++k) half[k] = lanes[k + 8] + lanes[k];
  for (int k = 0; k < 4; ++k) quarter[k] = half[k + 4] + half[k];
  return (quarter[0] + quarter[2]) + (quarter[1] + quarter[3]);
}

}  // namespace troupe
