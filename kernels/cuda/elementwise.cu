#include "kernels/cuda/elementwise.hpp"

#include "kernels/cuda/cuda_check.hpp"
#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/type_dispatch.hpp"
#include "kernels/cuda/weight_units.hpp"

namespace troupe::cuda {
namespace {

constexpr int kThreads = 256;

template <DType T>
__global__ void embed_kernel(const uint8_t* table, int64_t row_stride, int units,
                             const int32_t* ids, float* out) {
  const int t = blockIdx.x;
  const uint8_t* row = table + static_cast<int64_t>(ids[t]) * row_stride;
  float* o = out + static_cast<int64_t>(t) * units * kUnit;
  for (int u = threadIdx.x; u < units; u += blockDim.x) decode_unit<T>(row, u, o + u * kUnit);
}

// One block a row: the sum of squares over the block, then every value scaled.
__global__ void rms_norm_kernel(const float* x, const int32_t* rows, const float* weight, float eps,
                                int width, float* out) {
  const int r = blockIdx.x;
  const float* in = x + static_cast<int64_t>(rows ? rows[r] : r) * width;
  float sum = 0.0f;
  for (int i = threadIdx.x; i < width; i += blockDim.x) sum += in[i] * in[i];
  sum = block_reduce<false>(sum);
  const float scale = 1.0f / sqrtf(sum / static_cast<float>(width) + eps);
  float* o = out + static_cast<int64_t>(r) * width;
  for (int i = threadIdx.x; i < width; i += blockDim.x) o[i] = in[i] * scale * weight[i];
}

__global__ void add_kernel(float* x, const float* y, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] += y[i];
}

__global__ void bias_kernel(float* x, const float* bias, int64_t n, int width) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] += bias[i % width];
}

__global__ void silu_mul_kernel(float* gate, const float* up, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float g = gate[i];
  gate[i] = g / (1.0f + expf(-g)) * up[i];
}

}  // namespace

void embed_rows(cudaStream_t stream, const DeviceMatrix& table, const int32_t* ids, int tokens,
                float* out) {
  if (tokens == 0) return;
  const int units = static_cast<int>(table.cols / kUnit);
  with_weight_type(table.type, [&]<DType T>() {
    embed_kernel<T><<<tokens, 128, 0, stream>>>(table.data, table.row_stride, units, ids, out);
  });
  check_launch("embed_rows");
}

void rms_norm(cudaStream_t stream, const float* x, const int32_t* rows, int count,
              const float* weight, float eps, int width, float* out) {
  if (count == 0) return;
  rms_norm_kernel<<<count, kThreads, 0, stream>>>(x, rows, weight, eps, width, out);
  check_launch("rms_norm");
}

void add_in_place(cudaStream_t stream, float* x, const float* y, int64_t n) {
  if (n == 0) return;
  add_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(x, y, n);
  check_launch("add_in_place");
}

void add_bias(cudaStream_t stream, float* x, const float* bias, int tokens, int width) {
  const int64_t n = static_cast<int64_t>(tokens) * width;
  if (n == 0) return;
  bias_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(x, bias, n, width);
  check_launch("add_bias");
}

void silu_mul(cudaStream_t stream, float* gate, const float* up, int64_t n) {
  if (n == 0) return;
  silu_mul_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(gate, up, n);
  check_launch("silu_mul");
}

}  // namespace troupe::cuda
