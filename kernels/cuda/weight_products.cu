#include <cublas_v2.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <string>

#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/type_dispatch.hpp"
#include "kernels/cuda/weight_products.hpp"
#include "kernels/cuda/weight_units.hpp"

namespace troupe::cuda {
namespace {

constexpr int kRowsPerBlock = 4;  // one warp a row

// One warp per row: each lane decodes whole units (32 values) and multiplies them with every
// token's matching 32 inputs, so a weight is read from memory once for all the tokens.
template <DType T, int MaxTokens>
__global__ void __launch_bounds__(kWarp* kRowsPerBlock)
    gemv_kernel(const uint8_t* w, int64_t row_stride, int64_t rows, int units, const float* x,
                int tokens, float* y, int64_t y_stride) {
  const int lane = threadIdx.x % kWarp;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  if (row >= rows) return;
  const uint8_t* r = w + row * row_stride;
  const int64_t cols = static_cast<int64_t>(units) * kUnit;
  float acc[MaxTokens];
#pragma unroll
  for (int t = 0; t < MaxTokens; ++t) acc[t] = 0.0f;
  float v[kUnit];
  for (int u = lane; u < units; u += kWarp) {
    decode_unit<T>(r, u, v);
#pragma unroll
    for (int t = 0; t < MaxTokens; ++t) {
      if (t >= tokens) break;
      const auto* xs =
          reinterpret_cast<const float4*>(x + t * cols + static_cast<int64_t>(u) * kUnit);
      // One explicit chain of multiply-adds: the same rounding in every MaxTokens instance, so
      // a token's result does not depend on the batch it came in.
      float sum = 0.0f;
#pragma unroll
      for (int j = 0; j < kUnit / 4; ++j) {
        const float4 q = xs[j];
        sum = __fmaf_rn(v[4 * j], q.x, sum);
        sum = __fmaf_rn(v[4 * j + 1], q.y, sum);
        sum = __fmaf_rn(v[4 * j + 2], q.z, sum);
        sum = __fmaf_rn(v[4 * j + 3], q.w, sum);
      }
      acc[t] = __fadd_rn(acc[t], sum);
    }
  }
#pragma unroll
  for (int t = 0; t < MaxTokens; ++t) {
    if (t >= tokens) break;
    const float total = warp_sum(acc[t]);
    if (lane == 0) y[t * y_stride + row] = total;
  }
}

// One thread per unit: 32 values decoded and written as F16.
template <DType T>
__global__ void dequantize_kernel(const uint8_t* w, int64_t row_stride, int64_t rows, int units,
                                  __half* out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * units) return;
  const int64_t row = i / units;
  const int u = static_cast<int>(i % units);
  float v[kUnit];
  decode_unit<T>(w + row * row_stride, u, v);
  auto* o = reinterpret_cast<__half2*>(out + row * units * kUnit + static_cast<int64_t>(u) * kUnit);
#pragma unroll
  for (int j = 0; j < kUnit / 2; ++j) o[j] = __floats2half2_rn(v[2 * j], v[2 * j + 1]);
}

// F16 tops out at 65504, and activations can pass it (a feed-forward's down input): a token whose
// largest value is above kHalfHeadroom is divided by a power of two that brings it under, and
// its products multiplied back afterwards (scale_rows). Below it nothing changes.
constexpr float kHalfHeadroom = 16384.0f;

__global__ void to_half_scaled_kernel(const float* x, int cols, __half* out, float* scales) {
  const int t = blockIdx.x;
  const float* in = x + static_cast<int64_t>(t) * cols;
  float largest = 0.0f;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) largest = fmaxf(largest, fabsf(in[i]));
  largest = block_reduce<true>(largest);
  const float scale = largest > kHalfHeadroom ? exp2f(ceilf(log2f(largest / kHalfHeadroom))) : 1.0f;
  for (int i = threadIdx.x; i < cols; i += blockDim.x)
    out[static_cast<int64_t>(t) * cols + i] = __float2half_rn(in[i] / scale);
  if (threadIdx.x == 0) scales[t] = scale;
}

__global__ void scale_rows_kernel(float* y, int64_t width, int64_t n, const float* scales) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] *= scales[i / width];
}

template <DType T, int MaxTokens>
void launch_gemv(cudaStream_t stream, const DeviceMatrix& w, const float* x, int tokens, float* y,
                 int64_t y_stride) {
  const int units = static_cast<int>(w.cols / kUnit);
  gemv_kernel<T, MaxTokens>
      <<<blocks_for(w.rows, kRowsPerBlock), kWarp * kRowsPerBlock, 0, stream>>>(
          w.data, w.row_stride, w.rows, units, x, tokens, y, y_stride);
}

void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw CudaError(std::string(what) + ": " + cublasGetStatusString(status));
}

}  // namespace

bool device_supports(DType type, int64_t cols) {
  // Every type troupe reads has a unit decoder; a row must hold whole blocks and whole units.
  return cols % std::max<int64_t>(kUnit, traits(type).block_elements) == 0;
}

void gemv(cudaStream_t stream, const DeviceMatrix& w, const float* x, int tokens, float* y,
          int64_t y_stride) {
  if (tokens < 1 || tokens > kGemvMaxTokens) throw CudaError("gemv: 1 to 8 tokens");
  with_weight_type(w.type, [&]<DType T>() {
    if (tokens == 1) return launch_gemv<T, 1>(stream, w, x, tokens, y, y_stride);
    if (tokens == 2) return launch_gemv<T, 2>(stream, w, x, tokens, y, y_stride);
    if (tokens <= 4) return launch_gemv<T, 4>(stream, w, x, tokens, y, y_stride);
    return launch_gemv<T, 8>(stream, w, x, tokens, y, y_stride);
  });
  check_launch("gemv");
}

void dequantize_to_half(cudaStream_t stream, const DeviceMatrix& w, uint16_t* out) {
  const int units = static_cast<int>(w.cols / kUnit);
  with_weight_type(w.type, [&]<DType T>() {
    dequantize_kernel<T><<<blocks_for(w.rows * units, 256), 256, 0, stream>>>(
        w.data, w.row_stride, w.rows, units, reinterpret_cast<__half*>(out));
  });
  check_launch("dequantize_to_half");
}

WeightProducts::WeightProducts(cudaStream_t stream) : stream_(stream) {
  check_cublas(cublasCreate(&handle_), "cublasCreate");
  check_cublas(cublasSetStream(handle_, stream_), "cublasSetStream");
}

WeightProducts::~WeightProducts() {
  if (handle_) cublasDestroy(handle_);
}

void WeightProducts::reserve(int64_t max_matrix_values, int64_t max_activation_values) {
  weights_half_.reserve(static_cast<size_t>(std::min(max_matrix_values, kHalfScratchValues)));
  input_half_.reserve(static_cast<size_t>(max_activation_values));
}

void WeightProducts::run(const DeviceMatrix& w, const float* x, int tokens, float* y) {
  run({{&w, y}}, x, tokens);
}

void WeightProducts::run(std::initializer_list<Product> products, const float* x, int tokens) {
  if (tokens <= kGemvMaxTokens) {
    for (const Product& p : products) gemv(stream_, *p.w, x, tokens, p.y, p.w->rows);
    return;
  }
  // The input once as F16 for every matrix that reads it (they share its width).
  const int64_t cols = products.begin()->w->cols;
  input_half_.reserve(static_cast<size_t>(tokens * cols));
  input_scales_.reserve(static_cast<size_t>(tokens));
  to_half_scaled_kernel<<<tokens, 256, 0, stream_>>>(x, static_cast<int>(cols),
                                                     reinterpret_cast<__half*>(input_half_.data()),
                                                     input_scales_.data());
  check_launch("to_half_scaled");
  for (const Product& p : products) multiply_half_input(*p.w, tokens, p.y);
}

void WeightProducts::multiply_half_input(const DeviceMatrix& w, int tokens, float* y) {
  // cuBLAS is column-major: W's rows (row-major, `cols` apart) are the columns of a cols x rows
  // matrix, x is cols x tokens and y rows x tokens, so y = (that matrix)^T x. A matrix bigger
  // than the F16 scratch (a large vocabulary's output) goes in slices of rows.
  const int64_t slice = std::max<int64_t>(1, std::min(w.rows, kHalfScratchValues / w.cols));
  const float one = 1.0f, zero = 0.0f;
  for (int64_t first = 0; first < w.rows; first += slice) {
    const int64_t rows = std::min(slice, w.rows - first);
    const DeviceMatrix part{w.type, rows, w.cols, w.row_stride, w.data + first * w.row_stride};
    const uint16_t* weights = reinterpret_cast<const uint16_t*>(part.data);
    int64_t ldw = w.row_stride / 2;
    if (w.type != DType::F16) {
      weights_half_.reserve(static_cast<size_t>(rows * w.cols));
      dequantize_to_half(stream_, part, weights_half_.data());
      weights = weights_half_.data();
      ldw = w.cols;
    }
    check_cublas(
        cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(rows), tokens,
                     static_cast<int>(w.cols), &one, weights, CUDA_R_16F, static_cast<int>(ldw),
                     input_half_.data(), CUDA_R_16F, static_cast<int>(w.cols), &zero, y + first,
                     CUDA_R_32F, static_cast<int>(w.rows), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmEx");
  }
  const int64_t n = tokens * w.rows;
  scale_rows_kernel<<<blocks_for(n, 256), 256, 0, stream_>>>(y, w.rows, n, input_scales_.data());
  check_launch("scale_rows");
}

}  // namespace troupe::cuda
