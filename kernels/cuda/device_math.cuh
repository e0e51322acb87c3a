#pragma once
// What the CUDA kernels share: grid sizes and warp / block reductions.
#include <cmath>
#include <cstdint>

namespace troupe::cuda {

constexpr int kWarp = 32;

// Blocks of `threads` covering n items.
inline int blocks_for(int64_t n, int threads) {
  return static_cast<int>((n + threads - 1) / threads);
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// The whole block's sum (or maximum) of each thread's `v`, returned to every thread. Every
// thread of the block must call it; blockDim.x a multiple of 32, at most 1024.
template <bool Max>
__device__ __forceinline__ float block_reduce(float v) {
  __shared__ float partial[kWarp];
  v = Max ? warp_max(v) : warp_sum(v);
  if (threadIdx.x % kWarp == 0) partial[threadIdx.x / kWarp] = v;
  __syncthreads();
  const int warps = static_cast<int>(blockDim.x / kWarp);
  float all = Max ? -INFINITY : 0.0f;
  for (int w = 0; w < warps; ++w) all = Max ? fmaxf(all, partial[w]) : all + partial[w];
  __syncthreads();  // partial may be reused by the caller's next reduction
  return all;
}

}  // namespace troupe::cuda
