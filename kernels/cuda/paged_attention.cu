#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>

#include "kernels/cuda/cuda_check.hpp"
#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/paged_attention.hpp"

namespace troupe::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kMaxHeadDim = 256;

// One thread per rotated pair, in the host's fused form (kernels/cpu/rope.cpp).
__global__ void rotate_kernel(float* x, int tokens, int heads, int head_dim, int row_width,
                              bool neox, int pairs, const float* cos, const float* sin) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<int64_t>(tokens) * heads * pairs) return;
  const int pair = static_cast<int>(i % pairs);
  const int head = static_cast<int>(i / pairs % heads);
  const int64_t t = i / pairs / heads;
  float* h = x + t * row_width + static_cast<int64_t>(head) * head_dim;
  const int a = neox ? pair : 2 * pair, b = neox ? pair + pairs : 2 * pair + 1;
  const float c = cos[t * pairs + pair], s = sin[t * pairs + pair];
  const float x0 = h[a], x1 = h[b];
  h[a] = fmaf(x0, c, -(x1 * s));
  h[b] = fmaf(x0, s, x1 * c);
}

__global__ void store_kv_kernel(const float* key, const float* value, const int32_t* slots,
                                int tokens, int kv_dim, __half* key_cache, __half* value_cache) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<int64_t>(tokens) * kv_dim) return;
  const int64_t t = i / kv_dim;
  const int64_t at = static_cast<int64_t>(slots[t]) * kv_dim + i % kv_dim;
  key_cache[at] = __float2half_rn(key[i]);
  value_cache[at] = __float2half_rn(value[i]);
}

// A block per (token, query head, split of its positions), 4 warps taking every 4th position of
// the split; lane l holds dimensions l, l + 32, ... of the head. Each warp keeps an online
// softmax (running maximum, sum and weighted values); the block combines the four. One split:
// the block writes the output. Several (flash-decoding: a long context's positions spread over
// more blocks than a few tokens' heads make): it writes its maximum, sum and values, relative to
// that maximum, to `partials` for combine_kernel.
template <int PerLane>
__global__ void __launch_bounds__(kWarp* kWarps)
    attention_kernel(DeviceAttentionShape shape, const float* q, AttentionPlaces places,
                     const __half* key_cache, const __half* value_cache, float* out,
                     float* partials) {
  const int t = blockIdx.x, head = blockIdx.y, split = blockIdx.z, splits = gridDim.z;
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  const int hd = shape.head_dim;
  const int kv_dim = shape.kv_heads * hd;
  const int kv_offset = head / (shape.heads / shape.kv_heads) * hd;
  const int64_t q_at = static_cast<int64_t>(t) * shape.heads * hd + static_cast<int64_t>(head) * hd;
  float query[PerLane], acc[PerLane];
#pragma unroll
  for (int i = 0; i < PerLane; ++i) {
    query[i] = q[q_at + lane + kWarp * i] * shape.scale;
    acc[i] = 0.0f;
  }
  const int32_t* table = places.tables + places.table_start[t];
  const int length = places.lengths[t];
  const int per_split = (length + splits - 1) / splits;
  const int begin = split * per_split, end = min(length, begin + per_split);
  float max = -INFINITY, sum = 0.0f;
  for (int p = begin + warp; p < end; p += kWarps) {
    const int64_t slot =
        static_cast<int64_t>(table[p / shape.block_size]) * shape.block_size + p % shape.block_size;
    const __half* k = key_cache + slot * kv_dim + kv_offset;
    float dot = 0.0f;
#pragma unroll
    for (int i = 0; i < PerLane; ++i) dot += query[i] * __half2float(k[lane + kWarp * i]);
    const float score = warp_sum(dot);
    const float new_max = fmaxf(max, score);
    const float shrink = expf(max - new_max), weight = expf(score - new_max);
    sum = sum * shrink + weight;
    const __half* v = value_cache + slot * kv_dim + kv_offset;
#pragma unroll
    for (int i = 0; i < PerLane; ++i)
      acc[i] = acc[i] * shrink + weight * __half2float(v[lane + kWarp * i]);
    max = new_max;
  }
  __shared__ float max_of[kWarps], sum_of[kWarps];
  __shared__ float warp_acc[kWarps][kMaxHeadDim];
  if (lane == 0) {
    max_of[warp] = max;
    sum_of[warp] = sum;
  }
#pragma unroll
  for (int i = 0; i < PerLane; ++i) warp_acc[warp][lane + kWarp * i] = acc[i];
  __syncthreads();
  float total_max = -INFINITY;
  for (int w = 0; w < kWarps; ++w) total_max = fmaxf(total_max, max_of[w]);
  float total = 0.0f, factor[kWarps];
  for (int w = 0; w < kWarps; ++w) {
    factor[w] = max_of[w] == -INFINITY ? 0.0f : expf(max_of[w] - total_max);
    total += sum_of[w] * factor[w];
  }
  if (splits == 1) {
    const float inverse = total > 0.0f ? 1.0f / total : 0.0f;
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
      float value = 0.0f;
      for (int w = 0; w < kWarps; ++w) value += warp_acc[w][d] * factor[w];
      out[q_at + d] = value * inverse;
    }
    return;
  }
  float* part =
      partials + ((static_cast<int64_t>(t) * shape.heads + head) * splits + split) * (hd + 2);
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float value = 0.0f;
    for (int w = 0; w < kWarps; ++w) value += warp_acc[w][d] * factor[w];
    part[2 + d] = value;
  }
  if (threadIdx.x == 0) {
    part[0] = total_max;  // -inf for a split past the token's positions (its sum and values 0)
    part[1] = total;
  }
}

// A block per (token, query head): its splits' partial softmaxes rescaled to their common
// maximum and summed.
__global__ void combine_kernel(int heads, int head_dim, int splits, const float* partials,
                               float* out) {
  const int t = blockIdx.x, head = blockIdx.y;
  const float* parts =
      partials + (static_cast<int64_t>(t) * heads + head) * splits * (head_dim + 2);
  float max = -INFINITY;
  for (int z = 0; z < splits; ++z) max = fmaxf(max, parts[z * (head_dim + 2)]);
  float total = 0.0f;
  for (int z = 0; z < splits; ++z) {
    const float m = parts[z * (head_dim + 2)];
    if (m != -INFINITY) total += parts[z * (head_dim + 2) + 1] * expf(m - max);
  }
  const float inverse = total > 0.0f ? 1.0f / total : 0.0f;
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float value = 0.0f;
    for (int z = 0; z < splits; ++z) {
      const float m = parts[z * (head_dim + 2)];
      if (m != -INFINITY) value += parts[z * (head_dim + 2) + 2 + d] * expf(m - max);
    }
    out[(static_cast<int64_t>(t) * heads + head) * head_dim + d] = value * inverse;
  }
}

// The kernel for heads of PerLane * 32 values, or the next size up.
template <int PerLane = 1>
void launch_attention(cudaStream_t stream, const DeviceAttentionShape& shape, const float* q,
                      const AttentionPlaces& places, int tokens, const uint16_t* key_cache,
                      const uint16_t* value_cache, float* out, int splits, float* partials) {
  if constexpr (PerLane < kMaxHeadDim / kWarp) {
    if (shape.head_dim > PerLane * kWarp)
      return launch_attention<PerLane + 1>(stream, shape, q, places, tokens, key_cache, value_cache,
                                           out, splits, partials);
  }
  attention_kernel<PerLane><<<dim3(tokens, shape.heads, splits), kWarp * kWarps, 0, stream>>>(
      shape, q, places, reinterpret_cast<const __half*>(key_cache),
      reinterpret_cast<const __half*>(value_cache), out, partials);
}
}  // namespace

bool attention_supports(int head_dim) {
  return head_dim > 0 && head_dim % kWarp == 0 && head_dim <= kMaxHeadDim;
}

void rotate(cudaStream_t stream, float* x, int tokens, int heads, int head_dim, int row_width,
            RopeStyle style, int rotary_dims, const float* cos, const float* sin) {
  const int pairs = rotary_dims / 2;
  const int64_t n = static_cast<int64_t>(tokens) * heads * pairs;
  if (n == 0) return;
  rotate_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(x, tokens, heads, head_dim, row_width,
                                                        style == RopeStyle::NeoX, pairs, cos, sin);
  check_launch("rotate");
}

void store_kv(cudaStream_t stream, const float* key, const float* value, const int32_t* slots,
              int tokens, int kv_dim, uint16_t* key_cache, uint16_t* value_cache) {
  const int64_t n = static_cast<int64_t>(tokens) * kv_dim;
  if (n == 0) return;
  store_kv_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(key, value, slots, tokens, kv_dim,
                                                          reinterpret_cast<__half*>(key_cache),
                                                          reinterpret_cast<__half*>(value_cache));
  check_launch("store_kv");
}

void paged_attention(cudaStream_t stream, const DeviceAttentionShape& shape, const float* q,
                     const AttentionPlaces& places, int tokens, const uint16_t* key_cache,
                     const uint16_t* value_cache, float* out, int splits, float* partials) {
  if (tokens == 0) return;
  if (!attention_supports(shape.head_dim)) throw CudaError("paged_attention: head_dim");
  if (splits < 1 || (splits > 1 && partials == nullptr))
    throw CudaError("paged_attention: splits need their partials");
  launch_attention(stream, shape, q, places, tokens, key_cache, value_cache, out, splits, partials);
  check_launch("paged_attention");
  if (splits == 1) return;
  combine_kernel<<<dim3(tokens, shape.heads), std::min(shape.head_dim, 256), 0, stream>>>(
      shape.heads, shape.head_dim, splits, partials, out);
  check_launch("paged_attention: combine");
}

int64_t attention_partial_floats(int tokens, const DeviceAttentionShape& shape, int splits) {
  return static_cast<int64_t>(tokens) * shape.heads * splits * (shape.head_dim + 2);
}

}  // namespace troupe::cuda
