#include "kernels/cpu/vec_dot.hpp"

#include <cmath>
#include <stdexcept>

#include "kernels/cpu/half.hpp"
#include "kernels/cpu/kernel_table.hpp"

namespace troupe {

bool has_quantized_dot(DType type) {
  return type == DType::Q4_0 || type == DType::Q4_1 || type == DType::Q8_0;
}

void quantize_activations(const float* x, ActivationBlock* out, int64_t elements) {
  kernels().quantize_activations(x, out, elements);
}

float dot_quantized(DType type, const std::byte* row, const ActivationBlock* x, int64_t elements) {
  const int64_t blocks = elements / kQK;
  switch (type) {
    case DType::Q4_0:
      return kernels().dot_q4_0(reinterpret_cast<const BlockQ4_0*>(row), x, blocks);
    case DType::Q4_1:
      return kernels().dot_q4_1(reinterpret_cast<const BlockQ4_1*>(row), x, blocks);
    case DType::Q8_0:
      return kernels().dot_q8_0(reinterpret_cast<const BlockQ8_0*>(row), x, blocks);
    default:
      throw std::logic_error("dot_quantized: type has no integer dot product");
  }
}

bool dot_q4_1_2x4(const std::byte* const rows[2], const ActivationBlock* const x[4],
                  int64_t elements, float out[2][4]) {
  const auto tile = kernels().dot_q4_1_2x4;
  if (!tile) return false;
  const BlockQ4_1* const blocks[2] = {reinterpret_cast<const BlockQ4_1*>(rows[0]),
                                      reinterpret_cast<const BlockQ4_1*>(rows[1])};
  tile(blocks, x, elements / kQK, out);
  return true;
}

float dot_f32(const float* a, const float* b, int64_t n) {
  return kernels().dot_f32(a, b, n);
}

float block_dot(DType type, const std::byte* row, const ActivationBlock* x, int64_t elements) {
  float acc = 0;
  for (int64_t i = 0; i < elements / kQK; ++i) {
    int sum = 0;
    float d = 0, m = 0;
    if (type == DType::Q4_1) {
      const auto& w = reinterpret_cast<const BlockQ4_1*>(row)[i];
      for (int j = 0; j < kQK / 2; ++j) {
        sum += (w.qs[j] & 0xf) * x[i].qs[j] + (w.qs[j] >> 4) * x[i].qs[j + kQK / 2];
      }
      d = half_to_float(w.d);
      m = half_to_float(w.m);
    } else if (type == DType::Q8_0) {
      const auto& w = reinterpret_cast<const BlockQ8_0*>(row)[i];
      for (int j = 0; j < kQK; ++j) sum += w.qs[j] * x[i].qs[j];
      d = half_to_float(w.d);
    } else {
      throw std::logic_error("block_dot: Q4_1 and Q8_0 only");
    }
    const float scale = d * x[i].d;
    acc = std::fma(scale, static_cast<float>(sum), acc);
    if (type == DType::Q4_1) acc = std::fma(m, x[i].sum, acc);
  }
  return acc;
}

}  // namespace troupe
