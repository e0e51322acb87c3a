// The packed-row kernels (layout in packed_rows.cpp), compiled for AVX-512 F/BW/VL and VNNI and
// called only on CPUs that have them. A token's 4 activation bytes, broadcast, meet 16 rows in
// one vpdpbusd, and the 16 row sums land in one register with no horizontal reduction.
#include "kernels/cpu/avx512.hpp"  // first: it turns GCC's false uninitialized warnings off
#include "kernels/cpu/kernel_variants.hpp"

namespace troupe::avx512 {
namespace {

// 1.5 * 2^23 and its bits: quad sums are far inside +-2^22 (Q4_1: 4 * 15 * 127; Q8_0: 4 * 128 *
// 127).
constexpr float kMagic = 12582912.0f;
constexpr int32_t kMagicBits = 0x4B400000;

// Sixteen rows times `T` tokens over every block, in dot_quantized's arithmetic exactly (which is
// llama.cpp's): per (row, token), 8 float accumulators, one per 4-element quad, each taking
// (d_w * d_x) * quad product per block; then the same tree of additions as its horizontal sum;
// Q4_1 adds its minimum terms m_w * sum_x, summed in block order without fusing, last.
// acc[t][j] holds quad j of token t for the 16 rows, one row per lane.
template <bool kQ4_1, int T>
void group_tile(const std::byte* group, const PackedGroupLayout& layout, const ActivationBlock* x,
                int64_t x_stride, float* y, int64_t y_stride) {
  const int64_t blocks = layout.blocks;
  constexpr int64_t kValueBytes = (kQ4_1 ? 4 : 8) * 64;  // per block: 4 or 8 chunks of 16 x 4
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  const auto* scales = reinterpret_cast<const __m256i*>(group);
  const auto* mins = reinterpret_cast<const __m256i*>(group + layout.mins_offset);
  const auto* values = group + layout.values_offset;
  __m512 acc[T][8];
  __m512 min_sum[T];
  for (int t = 0; t < T; ++t) {
    for (auto& a : acc[t]) a = _mm512_setzero_ps();
    min_sum[t] = _mm512_setzero_ps();
  }
  const __m512i low_nibbles = _mm512_set1_epi8(0x0f);
  // Integer to float without vcvtdq2ps, which shares port 0 with vpdpbusd: the sums start from
  // the bits of 1.5 * 2^23, so a sum s (|s| < 2^22) reads as the float 1.5 * 2^23 + s, exactly,
  // and one subtraction, on either vector port, gives float(s) exactly as the conversion does.
  const __m512i magic_bits = _mm512_set1_epi32(kMagicBits);
  const __m512 magic = _mm512_set1_ps(kMagic);
  for (int64_t i = 0; i < blocks; ++i) {
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
    for (int t = 0; t < T; ++t) {
      const ActivationBlock& a = x[t * x_stride + i];
      const auto* quads = reinterpret_cast<const int32_t*>(a.qs);
      const __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(a.d));
      for (int j = 0; j < 8; ++j) {
        // Q8_0's weights carry +128: start from the activation's offset term to take it out.
        const __m512i start =
            kQ4_1 ? magic_bits : _mm512_add_epi32(magic_bits, _mm512_set1_epi32(a.offsets[j]));
        const __m512i dot = _mm512_dpbusd_epi32(start, q[j], _mm512_set1_epi32(quads[j]));
        const __m512 sum = _mm512_sub_ps(_mm512_castsi512_ps(dot), magic);
        acc[t][j] = _mm512_fmadd_ps(scale, sum, acc[t][j]);
      }
      if constexpr (kQ4_1) {
        const __m512 term = _mm512_mul_round_ps(mw, _mm512_set1_ps(a.sum), kRound);
        min_sum[t] = _mm512_add_round_ps(min_sum[t], term, kRound);
      }
    }
  }
  for (int t = 0; t < T; ++t) {
    const auto& a = acc[t];
    const __m512 even = _mm512_add_ps(_mm512_add_ps(a[0], a[4]), _mm512_add_ps(a[2], a[6]));
    const __m512 odd = _mm512_add_ps(_mm512_add_ps(a[1], a[5]), _mm512_add_ps(a[3], a[7]));
    _mm512_storeu_ps(y + t * y_stride, _mm512_add_ps(min_sum[t], _mm512_add_ps(even, odd)));
  }
}

// Two tokens' 16 accumulators, the 8 weight registers and the scales fill the 32 registers.
constexpr int kMaxTileTokens = 2;

template <bool kQ4_1>
void group_tokens(const std::byte* group, const PackedGroupLayout& layout, const ActivationBlock* x,
                  int64_t tokens, float* y, int64_t y_stride) {
  const int64_t blocks = layout.blocks;
  int64_t t = 0;
  for (; t + kMaxTileTokens <= tokens; t += kMaxTileTokens) {
    group_tile<kQ4_1, kMaxTileTokens>(group, layout, x + t * blocks, blocks, y + t * y_stride,
                                      y_stride);
  }
  if (t < tokens)
    group_tile<kQ4_1, 1>(group, layout, x + t * blocks, blocks, y + t * y_stride, y_stride);
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
