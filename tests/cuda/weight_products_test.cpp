// The device's weight products against the CPU's dequantized weights in double: every type, at
// the default model's shapes and at 8B-class shapes, through the GEMV path (1 to 8 tokens) and the
// cuBLAS path (more). Run where a device is visible; elsewhere they say so and pass.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/dequantize.hpp"
#include "kernels/cuda/weight_products.hpp"
#include "tests/cuda/device_vectors.hpp"
#include "tests/support/random_weights.hpp"

using namespace troupe;

namespace {

std::vector<uint8_t> random_matrix(DType type, int64_t rows, int64_t cols, std::mt19937_64& rng) {
  return test::random_weights(type, rows, cols, 0.02f, rng);
}

struct Shape {
  int64_t rows, cols;
};

}  // namespace

TEST_CASE("CUDA weight products equal the dequantized weights' products, every type and path") {
  if (!test::cuda_device_visible()) return;
  std::mt19937_64 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // The default model's q/ffn/down shapes, and an 8B model's gate/down shapes.
  const Shape shapes[] = {{576, 576}, {1536, 576}, {576, 1536}, {14336, 4096}, {4096, 14336}};
  cudaStream_t stream = nullptr;
  cuda::WeightProducts products(stream);
  for (DType type : {DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q8_0,
                     DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    for (const Shape& s : shapes) {
      if (!cuda::device_supports(type, s.cols)) continue;
      INFO(dtype_name(type) << " " << s.rows << "x" << s.cols);
      const auto bytes = random_matrix(type, s.rows, s.cols, rng);
      std::vector<float> w(static_cast<size_t>(s.rows * s.cols));
      const int64_t stride = row_bytes(type, s.cols);
      for (int64_t r = 0; r < s.rows; ++r)
        dequantize_row(type, reinterpret_cast<const std::byte*>(bytes.data()) + r * stride,
                       w.data() + r * s.cols, s.cols);
      const auto device_w = test::to_device(bytes);
      const cuda::DeviceMatrix m{type, s.rows, s.cols, stride, device_w.data()};
      for (int tokens : {1, 3, 8, 9, 40}) {
        INFO(tokens << " tokens");
        std::vector<float> x(static_cast<size_t>(tokens * s.cols));
        for (auto& v : x) v = normal(rng);
        const auto device_x = test::to_device(x);
        cuda::DeviceBuffer<float> device_y(static_cast<size_t>(tokens * s.rows));
        products.run(m, device_x.data(), tokens, device_y.data());
        const auto y = test::to_host(device_y, device_y.size());
        // F32 sums on the GEMV path; F16 inputs on cuBLAS's: errors relative to sum |w x|.
        const double tolerance = tokens <= cuda::kGemvMaxTokens ? 1e-4 : 2e-3;
        int bad = 0;
        for (int t = 0; t < tokens; ++t) {
          for (int64_t r = 0; r<s.rows; r += s.rows> 4096 ? 97 : 7) {
            double exact = 0, magnitude = 0;
            for (int64_t c = 0; c < s.cols; ++c) {
              const double p = double(w[r * s.cols + c]) * x[t * s.cols + c];
              exact += p;
              magnitude += std::fabs(p);
            }
            bad += std::fabs(y[t * s.rows + r] - exact) > tolerance * magnitude + 1e-6;
          }
        }
        CHECK(bad == 0);
      }
    }
  }
}

TEST_CASE("CUDA batched products keep activations beyond F16's range finite and right") {
  if (!test::cuda_device_visible()) return;
  std::mt19937_64 rng(13);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t rows = 576, cols = 1536;
  const int tokens = 12;  // the cuBLAS path
  const auto bytes = random_matrix(DType::Q4_1, rows, cols, rng);
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    dequantize_row(
        DType::Q4_1,
        reinterpret_cast<const std::byte*>(bytes.data()) + r * row_bytes(DType::Q4_1, cols),
        w.data() + r * cols, cols);
  // Token t's values up to about 10^(t / 2): past 65504 from the ninth token on.
  std::vector<float> x(static_cast<size_t>(tokens * cols));
  for (int t = 0; t < tokens; ++t)
    for (int64_t c = 0; c < cols; ++c) x[t * cols + c] = normal(rng) * std::pow(10.0f, t / 2.0f);
  const auto device_w = test::to_device(bytes);
  const auto device_x = test::to_device(x);
  cuda::DeviceBuffer<float> device_y(static_cast<size_t>(tokens * rows));
  cuda::WeightProducts products(nullptr);
  products.run({DType::Q4_1, rows, cols, row_bytes(DType::Q4_1, cols), device_w.data()},
               device_x.data(), tokens, device_y.data());
  const auto y = test::to_host(device_y, device_y.size());
  int bad = 0;
  for (int t = 0; t < tokens; ++t) {
    for (int64_t r = 0; r < rows; ++r) {
      double exact = 0, magnitude = 0;
      for (int64_t c = 0; c < cols; ++c) {
        exact += double(w[r * cols + c]) * x[t * cols + c];
        magnitude += std::fabs(double(w[r * cols + c]) * x[t * cols + c]);
      }
      bad +=
          !std::isfinite(y[t * rows + r]) || std::fabs(y[t * rows + r] - exact) > 2e-3 * magnitude;
    }
  }
  CHECK(bad == 0);
}
