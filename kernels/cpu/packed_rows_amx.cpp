// The packed Q4_1 and Q8_0 products on AMX-INT8 tiles, for 16 tokens or more (the rest, and
// every smaller call, go to the AVX-512 kernels). Compiled for AVX-512 VNNI and AMX and called
// only on CPUs that have them, in processes Linux has granted the tile data (cpu_features.cpp).
//
// One tdpbsud multiplies 16 tokens' signed activation bytes (an A tile: a token's block per row,
// read in place from the ActivationBlocks) by a block's 16 rows of unsigned weights (a B tile: 8
// rows of 4 weights x 16 rows: Q8_0's packed values as they are, Q4_1's unpacked to bytes once
// per call), and leaves each (token, row) block sum exact in a 16 x 16 tile of 32-bit integers.
// A block is 32 columns and has its own scales, so each block takes its own tile product (a
// tile's K of 64 would mix two blocks), and the tile goes through memory into the float step,
// which is the AVX-512 kernel's in its order: every output equals block_dot bit for bit
// (vec_dot.hpp), so a batch never changes a result. Measured on a 2-core Xeon with AMX: a
// tdpbsud takes ~16 cycles whatever its K, and the FMAs of the float step do not overlap it (one
// FMA port waits), so the float step (per 16 rows, token and block: a conversion, a multiply
// and 2 FMAs for Q4_1; an add, a conversion, a multiply and an FMA for Q8_0) bounds the kernel:
// on one thread 1.3x the VNNI kernel for Q4_1 (troupe-micro ffn_up at 128 tokens, 471 against
// 640 us), 1.2-1.3x for Q8_0 at 32 tokens (the output matrix: 3775-4042 against 4816-4838 us;
// bench/README.md).
#include "kernels/cpu/avx512.hpp"  // first: it turns GCC's false uninitialized warnings off

#include "kernels/cpu/amx_tiles.hpp"
#include "kernels/cpu/group_lines_ahead.hpp"
#include "kernels/cpu/kernel_variants.hpp"

namespace troupe::amx {
namespace {

constexpr int kBlockQuads = 8;  // a block's rows of B: 8 quads of columns, 16 rows x 4 bytes
constexpr int kRowBytes = kTileRowBytes;  // a row of B and of the sums: 16 rows x 4 bytes
constexpr int kWeightBytes = kBlockQuads * kRowBytes;  // a block's B tile
constexpr int kPackedQ4_1Bytes = 4 * kRowBytes;        // a Q4_1 block packed: 4 rows of nibbles
// Calls of up to this many tokens prefetch the next group's weights in their first tile.
constexpr int64_t kPrefetchTokens = 64;
// Blocks unpacked at a time: 32 KiB of weights, within L1 beside the sums and activations.
constexpr int64_t kChunkBlocks = 64;

// `blocks` blocks of packed Q4_1 values (4 registers of nibbles each) as bytes, block after
// block: a B tile each, whose row j holds columns 4j..4j+3 of the 16 rows, as the AVX-512
// kernel's register q[j].
void unpack_weights(const std::byte* values, int64_t blocks, uint8_t* out) {
  const __m512i low_nibbles = _mm512_set1_epi8(0x0f);
  for (int64_t i = 0; i < blocks; ++i) {
    const auto* in = reinterpret_cast<const __m512i*>(values + i * kPackedQ4_1Bytes);
    auto* bytes = reinterpret_cast<__m512i*>(out + i * kWeightBytes);
    for (int h = 0; h < 4; ++h) {
      const __m512i packed = _mm512_load_si512(in + h);
      _mm512_store_si512(bytes + h, _mm512_and_si512(packed, low_nibbles));
      _mm512_store_si512(bytes + h + 4,
                         _mm512_and_si512(_mm512_srli_epi16(packed, 4), low_nibbles));
    }
  }
}

// One block's float step for 16 tokens, as the AVX-512 kernel takes it: Q4_1
// acc[k] = fma(d_w * d_x, sum, acc[k]), then acc[k] = fma(m_w, sum_x, acc[k]); Q8_0, whose
// weights carry +128, the sum with the activation's offset added back, then the first step
// alone. `x`: token 0's block, the others `x_stride` blocks apart.
template <bool kQ4_1>
inline void add_block(const int32_t* sums, __m512 dw, __m512 mw, const ActivationBlock* x,
                      int64_t x_stride, __m512* acc) {
#pragma GCC unroll 16
  for (int k = 0; k < kTileTokens; ++k) {
    const ActivationBlock& a = x[k * x_stride];
    __m512i sum = _mm512_load_si512(sums + 16 * k);
    if constexpr (!kQ4_1) sum = _mm512_add_epi32(sum, _mm512_set1_epi32(a.offset));
    acc[k] =
        _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(a.d)), _mm512_cvtepi32_ps(sum), acc[k]);
    if constexpr (kQ4_1) acc[k] = _mm512_fmadd_ps(mw, _mm512_set1_ps(a.sum), acc[k]);
  }
}

// Sixteen rows times every whole tile of 16 tokens; returns the tokens done. Q4_1's weights
// are unpacked to bytes a chunk of blocks at a time; Q8_0's packed values already are B tiles.
template <bool kQ4_1>
int64_t tile_tokens(const std::byte* group, const PackedGroupLayout& layout,
                    const ActivationBlock* x, int64_t tokens, float* y, int64_t y_stride) {
  const int64_t whole = tokens / kTileTokens * kTileTokens;
  if (whole == 0) return 0;
  use_tiles(TileShapes::int8_blocks);
  const int64_t blocks = layout.blocks;
  const auto* scales = reinterpret_cast<const __m256i*>(group);
  const auto* mins = reinterpret_cast<const __m256i*>(group + layout.mins_offset);
  const std::byte* values = group + layout.values_offset;
  const int64_t x_stride_bytes = blocks * static_cast<int64_t>(sizeof(ActivationBlock));
  alignas(64) uint8_t unpacked[kQ4_1 ? kChunkBlocks * kWeightBytes : kRowBytes];  // Q4_1's
  alignas(64) int32_t sums[kTileTokens * 16];
  // A call of few tokens (a step of decodes) reads each group's weights from memory once, and
  // its first tile would wait on them: that tile prefetches the group after this one, which this
  // thread most likely computes next (parallel_for hands out runs of groups), a share of its
  // lines each block. 32 sequences decoding (bench offline, 8 in / 256 out, alternating):
  // 1442-1493 -> 1568-1619 output tok/s. Longer calls find the weights in cache after their
  // first tile and did not gain.
  const int64_t group_bytes =
      layout.values_offset + blocks * (kQ4_1 ? kPackedQ4_1Bytes : kWeightBytes);
  const GroupLinesAhead ahead(
      tokens <= kPrefetchTokens ? reinterpret_cast<const char*>(group) + group_bytes : nullptr,
      group_bytes, blocks);
  for (int64_t first = 0; first < blocks; first += kChunkBlocks) {
    const int64_t count = blocks - first < kChunkBlocks ? blocks - first : kChunkBlocks;
    const auto* weights = reinterpret_cast<const uint8_t*>(values) + first * kWeightBytes;
    if constexpr (kQ4_1) {
      unpack_weights(values + first * kPackedQ4_1Bytes, count, unpacked);
      weights = unpacked;
    }
    for (int64_t t = 0; t < whole; t += kTileTokens) {
      // A chunk after the first goes on from the sums the one before left in y.
      __m512 acc[kTileTokens];  // in registers: every loop over the tokens is unrolled
#pragma GCC unroll 16
      for (int k = 0; k < kTileTokens; ++k) {
        acc[k] = first == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(y + (t + k) * y_stride);
      }
      const ActivationBlock* xt = x + t * blocks + first;
      for (int64_t i = 0; i < count; ++i) {
        if (t == 0) ahead.ask(first + i);
        _tile_loadd(2, xt[i].qs, x_stride_bytes);
        _tile_loadd(4, weights + i * kWeightBytes, kRowBytes);
        _tile_zero(0);
        _tile_dpbsud(0, 2, 4);
        _tile_stored(0, sums, kRowBytes);
        const __m512 dw = _mm512_cvtph_ps(_mm256_load_si256(scales + first + i));
        const __m512 mw =
            kQ4_1 ? _mm512_cvtph_ps(_mm256_load_si256(mins + first + i)) : _mm512_setzero_ps();
        add_block<kQ4_1>(sums, dw, mw, xt + i, blocks, acc);
      }
#pragma GCC unroll 16
      for (int k = 0; k < kTileTokens; ++k) _mm512_storeu_ps(y + (t + k) * y_stride, acc[k]);
    }
  }
  return whole;
}

// Whole tiles of 16 tokens on the tile unit, the tokens left on the AVX-512 kernel.
template <bool kQ4_1>
void product(const std::byte* group, const PackedGroupLayout& layout, const ActivationBlock* x,
             int64_t tokens, float* y, int64_t y_stride) {
  const int64_t done = tile_tokens<kQ4_1>(group, layout, x, tokens, y, y_stride);
  if (done == tokens) return;
  const auto rest = kQ4_1 ? avx512::packed_q4_1 : avx512::packed_q8_0;
  rest(group, layout, x + done * layout.blocks, tokens - done, y + done * y_stride, y_stride);
}

}  // namespace

void packed_q4_1(const std::byte* group, const PackedGroupLayout& layout, const ActivationBlock* x,
                 int64_t tokens, float* y, int64_t y_stride) {
  product<true>(group, layout, x, tokens, y, y_stride);
}

void packed_q8_0(const std::byte* group, const PackedGroupLayout& layout, const ActivationBlock* x,
                 int64_t tokens, float* y, int64_t y_stride) {
  product<false>(group, layout, x, tokens, y, y_stride);
}

}  // namespace troupe::amx
