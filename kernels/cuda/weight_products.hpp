#pragma once
// y = W x for a batch of tokens, W a weight matrix in device memory in its stored GGUF type.
// A few tokens (decode) take a fused dequantize-GEMV that reads each weight once for all of them;
// more (prefill, big batches) dequantize W to F16 once and multiply in cuBLAS with FP32 sums.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <initializer_list>

#include "kernels/common/dtype.hpp"
#include "kernels/cuda/device_buffer.hpp"

struct cublasContext;

namespace troupe::cuda {

// A weight matrix in device memory: `rows` rows of `cols` values, `row_stride` bytes apart.
struct DeviceMatrix {
  DType type = DType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t row_stride = 0;
  const uint8_t* data = nullptr;
};

// Whether the device kernels take `type` (and a row of `cols` values: a multiple of 32).
bool device_supports(DType type, int64_t cols);

// The most tokens the GEMV path takes; above it, cuBLAS.
constexpr int kGemvMaxTokens = 8;
// F16 values of weights the batched path dequantizes at a time (128 MiB): bigger matrices go in
// slices of rows.
constexpr int64_t kHalfScratchValues = int64_t{64} << 20;

// y[t][r] = sum_c W[r][c] x[t][c] for tokens <= kGemvMaxTokens. x is [tokens][cols], y is
// [tokens][y_stride].
void gemv(cudaStream_t stream, const DeviceMatrix& w, const float* x, int tokens, float* y,
          int64_t y_stride);

// W's values as F16, [rows][cols] at `out`.
void dequantize_to_half(cudaStream_t stream, const DeviceMatrix& w, uint16_t* out);

// The product for any number of tokens, choosing the path; owns cuBLAS's handle and the F16
// scratch the batched path needs (grown to the largest matrix once, then reused).
class WeightProducts {
 public:
  explicit WeightProducts(cudaStream_t stream);
  ~WeightProducts();
  WeightProducts(const WeightProducts&) = delete;
  WeightProducts& operator=(const WeightProducts&) = delete;

  // y = W x as above, y [tokens][w.rows].
  void run(const DeviceMatrix& w, const float* x, int tokens, float* y);
  // Every product of matrices that read the same input (Q, K and V; gate and up): above
  // kGemvMaxTokens the input is converted to F16 once for all of them.
  struct Product {
    const DeviceMatrix* w;
    float* y;
  };
  void run(std::initializer_list<Product> products, const float* x, int tokens);
  // Sizes the scratch for the largest matrix (up to kHalfScratchValues) and batch ahead of the
  // first step, so that running out of memory shows at load.
  void reserve(int64_t max_matrix_values, int64_t max_activation_values);

 private:
  // y = W (the input run() converted) for more than kGemvMaxTokens tokens, through cuBLAS.
  void multiply_half_input(const DeviceMatrix& w, int tokens, float* y);

  cudaStream_t stream_;
  cublasContext* handle_ = nullptr;
  DeviceBuffer<uint16_t> weights_half_, input_half_;
  DeviceBuffer<float> input_scales_;  // per token: what its F16 inputs were divided by
};

}  // namespace troupe::cuda
