#include "kernels/cpu/elementwise.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/kernel_table.hpp"

namespace troupe {

float rms_scale(const float* x, float eps, int64_t n) {
  // Squares in float summed in double, the mean rounded to float: llama.cpp's rounding, which
  // the reference tests compare against.
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
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

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  const float max = *std::max_element(x, x + n);
  const auto inv = static_cast<float>(1.0 / kernels().exp_shifted_sum(x, n, max));
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

float reduce_16_lanes(const float lanes[16]) {
  float half[8], quarter[4];
  for (int k = 0; k < 8; ++k) half[k] = lanes[k + 8] + lanes[k];
  for (int k = 0; k < 4; ++k) quarter[k] = half[k + 4] + half[k];
  return (quarter[0] + quarter[2]) + (quarter[1] + quarter[3]);
}

void reduce_16_lane_rows(float* lanes, int64_t width, float* out) {
  // reduce_16_lanes' tree for every column at once, in place (a + b == b + a exactly): the same
  // sums, vectorized along the row.
  for (int k = 0; k < 8; ++k) {
    for (int64_t i = 0; i < width; ++i) lanes[k * width + i] += lanes[(k + 8) * width + i];
  }
  for (int k = 0; k < 4; ++k) {
    for (int64_t i = 0; i < width; ++i) lanes[k * width + i] += lanes[(k + 4) * width + i];
  }
  for (int64_t i = 0; i < width; ++i) {
    out[i] = (lanes[i] + lanes[2 * width + i]) + (lanes[width + i] + lanes[3 * width + i]);
  }
}

}  // namespace troupe
