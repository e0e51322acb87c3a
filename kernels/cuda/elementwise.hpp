#pragma once
// The per-token steps of a layer on the device: embedding rows, RMSNorm, residual and bias adds,
// SwiGLU. Activations are F32, [tokens][width], in device memory; every call is queued on
// `stream` and returns at once.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/weight_products.hpp"

namespace troupe::cuda {

// out[t] = row ids[t] of `table`, decoded to F32 (table.cols values each).
void embed_rows(cudaStream_t stream, const DeviceMatrix& table, const int32_t* ids, int tokens,
                float* out);

// out[r] = x[rows[r]] / rms(x[rows[r]]) * weight for r < count; rows null: row r itself.
void rms_norm(cudaStream_t stream, const float* x, const int32_t* rows, int count,
              const float* weight, float eps, int width, float* out);

// x[i] += y[i] for i < n.
void add_in_place(cudaStream_t stream, float* x, const float* y, int64_t n);

// x[t][i] += bias[i].
void add_bias(cudaStream_t stream, float* x, const float* bias, int tokens, int width);

// gate[i] = silu(gate[i]) * up[i] for i < n.
void silu_mul(cudaStream_t stream, float* gate, const float* up, int64_t n);

}  // namespace troupe::cuda
