#pragma once
// The kernels that have SIMD variants, as function pointers to one instruction-set level's
// variants (cpu_features.hpp). Callers go through kernels(); tests compare every level the CPU
// runs against kernel_table(CpuIsa::scalar).
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/cpu_features.hpp"
#include "kernels/cpu/line_queue.hpp"
#include "kernels/cpu/quant_blocks.hpp"

namespace troupe {

// Where a packed group of 16 rows keeps its tables (kernels/cpu/packed_rows.cpp lays them out).
struct PackedGroupLayout {
  int64_t blocks = 0;         // 32-column blocks per row
  int64_t mins_offset = 0;    // bytes from the group's start to its Q4_1 minimums
  int64_t values_offset = 0;  // bytes to its values
  // How far past a group's start a single token's product prefetches (stream_prefetch_bytes,
  // or long_run_prefetch_bytes in a thread's long run of one matrix).
  int64_t prefetch_bytes = 0;
};

// Positions per step of the attention's online softmax: llama.cpp's KV tile (GGML_FA_TILE_KV), so
// that the running maximum and sum are rescaled where llama.cpp rescales them.
constexpr int kAttentionTile = 64;
// Query rows the SIMD attention kernels take in one pass over a tile's keys or values: a GQA
// group's heads of several consecutive tokens of a sequence (paged_attention.cpp).
constexpr int kAttentionQueries = 12;
// The bit round_to_bf16 sets in a NaN's BF16 bits (the quiet bit), so that rounding never turns
// a NaN into an infinity.
constexpr uint16_t kQuietBf16 = 0x40;

struct KernelTable {
  CpuIsa isa;

  // vec_dot.hpp: activations to 8-bit blocks; one weight row against one token.
  void (*quantize_activations)(const float* x, ActivationBlock* out, int64_t elements);
  float (*dot_q4_0)(const BlockQ4_0* w, const ActivationBlock* x, int64_t blocks);
  float (*dot_q4_1)(const BlockQ4_1* w, const ActivationBlock* x, int64_t blocks);
  float (*dot_q8_0)(const BlockQ8_0* w, const ActivationBlock* x, int64_t blocks);
  float (*dot_f32)(const float* a, const float* b, int64_t n);
  // Two Q4_1 rows against four tokens, each result equal to dot_q4_1's; null where absent.
  void (*dot_q4_1_2x4)(const BlockQ4_1* const rows[2], const ActivationBlock* const x[4],
                       int64_t blocks, float out[2][4]);

  // packed_rows.hpp: 16 rows of a packed group against `tokens` tokens, each result equal to
  // block_dot (vec_dot.hpp) on the unpacked row; null where the level has no packing.
  void (*packed_q4_1)(const std::byte* group, const PackedGroupLayout& layout,
                      const ActivationBlock* x, int64_t tokens, float* y, int64_t y_stride);
  void (*packed_q8_0)(const std::byte* group, const PackedGroupLayout& layout,
                      const ActivationBlock* x, int64_t tokens, float* y, int64_t y_stride);
  // 32 rows of a packed BF16 group (columns in pairs) against `tokens` tokens of FP32
  // activations, `cols` apart; null where the level has no packing.
  void (*packed_bf16)(const std::byte* group, int64_t cols, const float* x, int64_t tokens,
                      float* y, int64_t y_stride);
  // The same against activations already rounded to BF16 (round_to_bf16), token t's at x + t *
  // cols, on CPUs with AVX-512 BF16 only (cpu_features.hpp: bf16_dot_products); null where the
  // level has no packing. Each (row, token) sums in the level's fixed order: avx512, one chain of
  // vdpbf16ps over the column pairs; amx, the AMX-BF16 tile unit's (per 32 columns, an even and
  // an odd column's chain, each from zero, added, then added to the sum).
  void (*packed_bf16_rounded)(const std::byte* group, int64_t cols, const uint16_t* x,
                              int64_t tokens, float* y, int64_t y_stride);
  // out[i] = x[i] rounded to BF16 (its upper 16 bits), to nearest even, for i < n; a NaN stays
  // a NaN (its upper bits, quieted: kQuietBf16).
  void (*round_to_bf16)(const float* x, uint16_t* out, int64_t n);

  // paged_attention.hpp, in the arithmetic of llama.cpp's tiled flash attention, for `queries`
  // query heads sharing one KV head (query g at q + g * head_dim, its results at out + g * ...):
  // out[g * kAttentionTile + i] = (q_g . key of position first + i) * scale for i < count <=
  // kAttentionTile, each dot one chain of fused multiply-adds over the dimensions; key_blocks[b] is
  // block b's first dimension of the head (transposed blocks, [dim][block_size]).
  void (*attention_scores)(const float* q, int queries, const uint16_t* const* key_blocks,
                           int block_size, int first, int count, int head_dim, float scale,
                           float* out, LineQueue& ahead);
  // out[g * head_dim + d] += weight[g * kAttentionTile + i] * (value of position first + i)[d] for
  // i < count <= kAttentionTile, one fused multiply-add per position, in position order;
  // value_blocks[b] is block b's first row at the head, rows `row_stride` values apart.
  void (*attention_values)(const float* weight, int queries, const uint16_t* const* value_blocks,
                           int block_size, int row_stride, int first, int count, int head_dim,
                           float* out, LineQueue& ahead);
  // Whether both attention kernels ask for two of `ahead`'s lines (line_queue.hpp) per step of
  // their loops, a dimension or a position, leaving it at the next line (or on its last run), at
  // this block and head size: AVX-512's where both are multiples of 16 (elsewhere they fall back
  // to the scalar ones, which ask for nothing).
  bool (*attention_asks_ahead)(int block_size, int head_dim);

  // elementwise_*.cpp, beside exp_shifted_sum, which it uses:
  // one step of attention's online softmax for `rows` query rows of a tile (row g at scores +
  // g * kAttentionTile): m = the larger of max[g] and the largest of the row's first counts[g]
  // scores, NaNs passed over, stored to max[g]; those scores become fast_exp(score - m);
  // tile_sum[g] = their sum in exp_shifted_sum's order. A row whose count is 0 keeps its maximum
  // and gets a sum of 0.
  void (*softmax_tile)(float* scores, int rows, const int* counts, float* max, double* tile_sum);

  // elementwise.hpp
  void (*silu_mul)(float* gate, const float* up, int64_t n);
  // x[i] = fast_exp(x[i] - max) for i < n, returning their sum in softmax's order.
  double (*exp_shifted_sum)(float* x, int64_t n, float max);
  // The first index of the largest of x[0 .. n), NaNs passed over; 0 when there is none.
  int64_t (*argmax)(const float* x, int64_t n);
};

// The table of `isa`, which must be supported (isa_supported).
const KernelTable& kernel_table(CpuIsa isa);
// The table of selected_isa(), what every kernel call uses.
const KernelTable& kernels();

}  // namespace troupe
