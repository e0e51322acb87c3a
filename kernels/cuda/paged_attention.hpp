#pragma once
// Attention on the device over a paged KV cache in device memory, F16 values. A layer's keys and
// values are each [blocks * block_size][kv_dim]: position p of a sequence is slot
// block_table[p / block_size] * block_size + p % block_size, and a KV head's head_dim values of
// a slot are contiguous, so a warp reads a key in one coalesced load.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/common/rope_config.hpp"

namespace troupe::cuda {

// Rotates `heads` heads of every token's row of x ([tokens][row_width]) in place by the batch's
// cos/sin tables ([tokens][rotary_dims / 2] each, the host's RopeTable values).
void rotate(cudaStream_t stream, float* x, int tokens, int heads, int head_dim, int row_width,
            RopeStyle style, int rotary_dims, const float* cos, const float* sin);

// Stores each token's key and value rows (kv_dim floats) as F16 at its slot (slots[t]).
void store_kv(cudaStream_t stream, const float* key, const float* value, const int32_t* slots,
              int tokens, int kv_dim, uint16_t* key_cache, uint16_t* value_cache);

// Where each token of the batch reads: its sequence's block table (at tables + table_start[t])
// and how many positions it attends to (its own position + 1).
struct AttentionPlaces {
  const int32_t* tables = nullptr;
  const int32_t* table_start = nullptr;
  const int32_t* lengths = nullptr;
};

struct DeviceAttentionShape {
  int heads = 0;
  int kv_heads = 0;
  int head_dim = 0;  // a multiple of 32, at most 256
  int block_size = 16;
  float scale = 1.0f;
};

// out[t][h] = softmax(q[t][h] . K^T * scale) V over the token's positions, for every token and
// query head; q and out are [tokens][heads * head_dim]. `splits` > 1 spreads each token's
// positions over that many blocks (flash-decoding), whose partial results meet in `partials`
// (attention_partial_floats of them) and are combined in a second kernel: for steps of few
// tokens, whose heads alone would leave most of the GPU idle over a long context.
void paged_attention(cudaStream_t stream, const DeviceAttentionShape& shape, const float* q,
                     const AttentionPlaces& places, int tokens, const uint16_t* key_cache,
                     const uint16_t* value_cache, float* out, int splits = 1,
                     float* partials = nullptr);

int64_t attention_partial_floats(int tokens, const DeviceAttentionShape& shape, int splits);

// Whether paged_attention takes heads of this size.
bool attention_supports(int head_dim);

}  // namespace troupe::cuda
