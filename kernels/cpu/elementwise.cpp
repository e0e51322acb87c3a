#include "kernels/cpu/elementwise.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/avx512.hpp"
#include "kernels/cpu/fast_exp.hpp"

namespace troupe {

void rms_norm(const float* x, const float* weight, float eps, int64_t n, float* out) {
  // Squares in float summed in double, the mean rounded to float: llama.cpp's rounding, which
  // the reference tests compare against.
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const auto mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void silu_mul(float* gate, const float* up, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  const __m512 one = _mm512_set1_ps(1.0f);
  for (; i + 16 <= n; i += 16) {
    const __m512 g = _mm512_loadu_ps(gate + i);
    const __m512 e = fast_exp(_mm512_sub_ps(_mm512_setzero_ps(), g));
    _mm512_storeu_ps(
        gate + i, _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(one, e)), _mm512_loadu_ps(up + i)));
  }
#endif
  for (; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + fast_exp(-g)) * up[i];
  }
}

void add_in_place(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  const float max = *std::max_element(x, x + n);
  // Sixteen-wide partial sums, reduced as llama.cpp's AVX-512 softmax reduces them, then added
  // in double: the same total to the last bit.
  double sum = 0;
  for (int64_t chunk = 0; chunk < n; chunk += 16) {
    float lanes[16] = {};
#if defined(__AVX512F__)
    const auto valid = static_cast<__mmask16>((1u << std::min<int64_t>(16, n - chunk)) - 1);
    const __m512 shifted =
        _mm512_sub_ps(_mm512_maskz_loadu_ps(valid, x + chunk), _mm512_set1_ps(max));
    const __m512 e = _mm512_maskz_mov_ps(valid, fast_exp(shifted));
    _mm512_mask_storeu_ps(x + chunk, valid, e);
    _mm512_storeu_ps(lanes, e);
#else
    for (int64_t i = chunk; i < std::min(n, chunk + 16); ++i) {
      x[i] = fast_exp(x[i] - max);
      lanes[i - chunk] = x[i];
    }
#endif
    sum += reduce_16_lanes(lanes);
  }
  const auto inv = static_cast<float>(1.0 / sum);
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
