// The packed-row kernels (layout in packed_rows.cpp), compiled for AVX-512 F/BW/VL and VNNI and
// called only on CPUs that have them. A token's 4 activation bytes, broadcast, meet 16 rows in
// one vpdpbusd, and the 16 row sums land in one register with no horizontal reduction.
#include "kernels/cpu/avx512.hpp"  // first: it turns GCC's false uninitialized warnings off

#include "kernels/cpu/group_lines_ahead.hpp"
#include "kernels/cpu/kernel_variants.hpp"

namespace troupe::avx512 {
namespace {

// 1.5 * 2^23 and its bits: a block's integer sum is far inside +-2^22 (Q4_1: 32 * 15 * 127;
// Q8_0: 32 * 128 * 127).
constexpr float kMagic = 12582912.0f;
constexpr int32_t kMagicBits = 0x4B400000;

// Bytes of a block's values: 4 or 8 chunks of 16 rows x 4 bytes.
constexpr int64_t value_bytes(bool q4_1) {
  return (q4_1 ? 4 : 8) * 64;
}

// Sixteen rows times `T` tokens over every block, in block_dot's arithmetic (vec_dot.hpp): per
// (row, token) the block's 32 products summed as integers by 8 vpdpbusd, then one float step
// per block, acc = fma(d_w * d_x, sum, acc) and, for Q4_1, acc = fma(m_w, sum_x, acc). acc[t]
// holds token t's 16 rows, one row per lane. Integer addition is exact, so splitting a block's
// 8 products over `kChains` independent sums (to hide vpdpbusd's latency when few tokens share
// the block) changes nothing in the result.
template <bool kQ4_1, int T>
void group_tile(const std::byte* group, const PackedGroupLayout& layout, const ActivationBlock* x,
                int64_t x_stride, float* y, int64_t y_stride, const char* next_group) {
  constexpr int kChains = T == 1 ? 4 : T < 4 ? 2 : 1;
  const int64_t blocks = layout.blocks;
  constexpr int64_t kValueBytes = value_bytes(kQ4_1);
  const auto* scales = reinterpret_cast<const __m256i*>(group);
  const auto* mins = reinterpret_cast<const __m256i*>(group + layout.mins_offset);
  const auto* values = group + layout.values_offset;
  __m512 acc[T];
  for (auto& a : acc) a = _mm512_setzero_ps();
  const __m512i low_nibbles = _mm512_set1_epi8(0x0f);
  // Integer to float without vcvtdq2ps, which shares port 0 with vpdpbusd: the sum starts from
  // the bits of 1.5 * 2^23, so a sum s (|s| < 2^22) reads as the float 1.5 * 2^23 + s, exactly,
  // and one subtraction, on either vector port, gives float(s) exactly as the conversion does.
  const __m512 magic = _mm512_set1_ps(kMagic);
  // A group's worth of lines from `next_group` on (if asked), spread over the blocks.
  const GroupLinesAhead ahead(next_group, layout.values_offset + blocks * kValueBytes, blocks);
  for (int64_t i = 0; i < blocks; ++i) {
    ahead.ask(i);
    const __m512 dw = _mm512_cvtph_ps(_mm256_load_si256(scales + i));
    const __m512 mw = kQ4_1 ? _mm512_cvtph_ps(_mm256_load_si256(mins + i)) : _mm512_setzero_ps();
    __m512i q[8];
    const auto* v = reinterpret_cast<const __m512i*>(values + i * kValueBytes);
    if constexpr (kQ4_1) {
      for (int h = 0; h < 4; ++h) {
        const __m512i packed = _mm512_load_si512(v + h);
        q[h] = _mm512_and_si512(packed, low_nibbles);
        q[h + 4] = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low_nibbles);
      }
    } else {
      for (int j = 0; j < 8; ++j) q[j] = _mm512_load_si512(v + j);
    }
    // The tokens' sums advance together, one weight register at a time, so that T * kChains
    // independent vpdpbusd chains are in flight.
    __m512i sums[T][kChains];
    for (int t = 0; t < T; ++t) {
      // Q8_0's weights carry +128: the activation's offset takes it back out.
      const int32_t offset = kQ4_1 ? 0 : x[t * x_stride + i].offset;
      sums[t][0] = _mm512_set1_epi32(kMagicBits + offset);
      for (int c = 1; c < kChains; ++c) sums[t][c] = _mm512_setzero_si512();
    }
    for (int j = 0; j < 8; ++j) {
      for (int t = 0; t < T; ++t) {
        const auto* quads = reinterpret_cast<const int32_t*>(x[t * x_stride + i].qs);
        __m512i& sum = sums[t][j % kChains];
        sum = _mm512_dpbusd_epi32(sum, q[j], _mm512_set1_epi32(quads[j]));
      }
    }
    for (int t = 0; t < T; ++t) {
      const ActivationBlock& a = x[t * x_stride + i];
      for (int c = 1; c < kChains; ++c) sums[t][0] = _mm512_add_epi32(sums[t][0], sums[t][c]);
      const __m512 sum = _mm512_sub_ps(_mm512_castsi512_ps(sums[t][0]), magic);
      acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(a.d)), sum, acc[t]);
      if constexpr (kQ4_1) acc[t] = _mm512_fmadd_ps(mw, _mm512_set1_ps(a.sum), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) _mm512_storeu_ps(y + t * y_stride, acc[t]);
}

// Tiles of kTokens tokens from token t on, while whole ones fit; returns the first token left.
template <bool kQ4_1, int kTokens>
int64_t tiles(const std::byte* group, const PackedGroupLayout& layout, const ActivationBlock* x,
              int64_t t, int64_t tokens, float* y, int64_t y_stride) {
  // A group's first tile of several tokens prefetches the group after it, which this thread
  // most likely computes next (parallel_for hands out runs of groups): that group's first tile
  // then finds its weights in cache instead of waiting on memory (decode of 32 sequences 2-6%
  // faster). A lone token reads each weight once and waits on memory: it prefetches the group's
  // worth of bytes that starts layout.prefetch_bytes after the group, so the prefetches run
  // through tables and values alike at the pace the weights are read (decode 1.3x on a Zen 5
  // EPYC against prefetching only the values 1.5 KiB ahead of the block being read). At 0 bytes
  // (a long run on AMD) that walk covers the group's own tables, then runs a line per block
  // ahead of its loads.
  const char* start = reinterpret_cast<const char*>(group);
  const char* after = start + layout.values_offset + layout.blocks * value_bytes(kQ4_1);
  for (; t + kTokens <= tokens; t += kTokens) {
    const char* next = kTokens == 1 ? start + layout.prefetch_bytes : t == 0 ? after : nullptr;
    group_tile<kQ4_1, kTokens>(group, layout, x + t * layout.blocks, layout.blocks,
                               y + t * y_stride, y_stride, next);
  }
  return t;
}

// Tiles of 8 tokens, then 4, 2 and 1: the 8 weight registers are unpacked once per block for all
// of a tile's tokens, and 8 tokens' accumulators, the weights and the constants stay within the
// 32 registers.
template <bool kQ4_1>
void group_tokens(const std::byte* group, const PackedGroupLayout& layout, const ActivationBlock* x,
                  int64_t tokens, float* y, int64_t y_stride) {
  int64_t t = tiles<kQ4_1, 8>(group, layout, x, 0, tokens, y, y_stride);
  t = tiles<kQ4_1, 4>(group, layout, x, t, tokens, y, y_stride);
  t = tiles<kQ4_1, 2>(group, layout, x, t, tokens, y, y_stride);
  tiles<kQ4_1, 1>(group, layout, x, t, tokens, y, y_stride);
}

}  // namespace

void packed_q4_1(const std::byte* group, const PackedGroupLayout& layout, const ActivationBlock* x,
                 int64_t tokens, float* y, int64_t y_stride) {
  group_tokens<true>(group, layout, x, tokens, y, y_stride);
}

void packed_q8_0(const std::byte* group, const PackedGroupLayout& layout, const ActivationBlock* x,
                 int64_t tokens, float* y, int64_t y_stride) {
  group_tokens<false>(group, layout, x, tokens, y, y_stride);
}

}  // namespace troupe::avx512
