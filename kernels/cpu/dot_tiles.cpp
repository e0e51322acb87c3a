#include "kernels/cpu/dot_tiles.hpp"

#include "kernels/cpu/avx2_blocks.hpp"
#include "kernels/cpu/half.hpp"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && \
    defined(__AVX512VL__) && defined(__AVX512VNNI__)
#define TROUPE_DOT_TILES 1
#include <immintrin.h>
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(), which -Wmaybe-uninitialized
// (and -Wuninitialized) misread as a use of an uninitialized value.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace troupe {

void gather_tile_sums(const ActivationBlock* const x[], int tokens, int64_t blocks, float* out) {
  for (int64_t i = 0; i < blocks; ++i) {
    for (int t = 0; t < kTileTokens; ++t) out[i * kTileTokens + t] = t < tokens ? x[t][i].sum : 0;
  }
}

#ifdef TROUPE_DOT_TILES
namespace {

using avx2::horizontal_sum;  // the reduction order of dot_q4_1's
using avx2::unpack_nibbles;

// How a weight format's block meets the unsigned-by-signed VNNI product. Q4_1's 4-bit values
// are unsigned already, with a minimum term m * sum per block; Q8_0's signed bytes are offset by
// 128 and the offset's share, 128 * (sum of 4 activations) per lane, is subtracted up front
// (exact integer arithmetic, so the lanes equal dot_q8_0's sign-trick lanes).
struct Q4_1Rows {
  using Block = BlockQ4_1;
  static constexpr bool kMinimum = true, kOffset128 = false;
  static __m256i values(const Block& b) { return unpack_nibbles(b.qs); }
};
struct Q8_0Rows {
  using Block = BlockQ8_0;
  static constexpr bool kMinimum = false, kOffset128 = true;
  static __m256i values(const Block& b) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
    return _mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80)));
  }
};

__m512i pair(__m256i a, __m256i b) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
}
__m512 pair(float a, float b) {
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(a)), _mm256_set1_ps(b), 1);
}

// Accumulators: acc[p][t] holds rows 2p (low half) and 2p+1 (high half) for token t, 8 lanes
// each, exactly as dot_q4_1's one 8-lane accumulator per (row, token). The minimum terms
// m * sum are 16 lanes per 4 tokens (lane 4t + r), added in block order without fusing, as
// dot_q4_1 adds them.
template <typename Rows, int T>
void tile(const typename Rows::Block* const w[kTileRows], const ActivationBlock* const x[],
          const float* tile_sums, int64_t blocks, float* y, int64_t y_stride) {
  constexpr int kGroups = (T + 3) / 4;
  __m512 acc[2][T];
  __m512 mins[kGroups];
  for (auto& p : acc) {
    for (auto& a : p) a = _mm512_setzero_ps();
  }
  for (auto& m : mins) m = _mm512_setzero_ps();
  const __m512i lane_token = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  for (int64_t i = 0; i < blocks; ++i) {
    __m512i q[2];
    __m512 d[2];
    for (int p = 0; p < 2; ++p) {
      const auto& b0 = w[2 * p][i];
      const auto& b1 = w[2 * p + 1][i];
      q[p] = pair(Rows::values(b0), Rows::values(b1));
      d[p] = pair(half_to_float(b0.d), half_to_float(b1.d));
    }
    if constexpr (Rows::kMinimum) {
      const __m128 m4 = _mm_setr_ps(half_to_float(w[0][i].m), half_to_float(w[1][i].m),
                                    half_to_float(w[2][i].m), half_to_float(w[3][i].m));
      const __m512 m16 = _mm512_broadcast_f32x4(m4);
      for (int g = 0; g < kGroups; ++g) {
        const __m512 s4 = _mm512_castps128_ps512(_mm_loadu_ps(tile_sums + i * kTileTokens + 4 * g));
        const __m512 s16 = _mm512_permutexvar_ps(lane_token, s4);
        const __m512 product =
            _mm512_mul_round_ps(m16, s16, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        mins[g] =
            _mm512_add_round_ps(mins[g], product, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      }
    }
    for (int t = 0; t < T; ++t) {
      const ActivationBlock& a = x[t][i];
      const __m512i qa =
          _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs)));
      const __m512 ad = _mm512_set1_ps(a.d);
      __m512i start = _mm512_setzero_si512();
      if constexpr (Rows::kOffset128) {
        const __m512i offset = _mm512_set1_epi8(static_cast<char>(0x80));
        start = _mm512_sub_epi32(start, _mm512_dpbusd_epi32(_mm512_setzero_si512(), offset, qa));
      }
      for (int p = 0; p < 2; ++p) {
        const __m512 dot = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start, q[p], qa));
        acc[p][t] = _mm512_fmadd_ps(_mm512_mul_ps(d[p], ad), dot, acc[p][t]);
      }
    }
  }
  float min_terms[kGroups * 16];
  for (int g = 0; g < kGroups; ++g) _mm512_storeu_ps(min_terms + 16 * g, mins[g]);
  for (int t = 0; t < T; ++t) {
    for (int p = 0; p < 2; ++p) {
      const __m256 lo = _mm512_castps512_ps256(acc[p][t]);
      const __m256 hi = _mm512_extractf32x8_ps(acc[p][t], 1);
      y[t * y_stride + 2 * p] = min_terms[4 * t + 2 * p] + horizontal_sum(lo);
      y[t * y_stride + 2 * p + 1] = min_terms[4 * t + 2 * p + 1] + horizontal_sum(hi);
    }
  }
}

template <typename Rows>
void dispatch_tile(const std::byte* const rows[kTileRows], const ActivationBlock* const x[],
                   int tokens, const float* tile_sums, int64_t elements, float* y,
                   int64_t y_stride) {
  using Block = typename Rows::Block;
  const Block* w[kTileRows];
  for (int r = 0; r < kTileRows; ++r) w[r] = reinterpret_cast<const Block*>(rows[r]);
  const int64_t blocks = elements / kQK;
  switch (tokens) {
    case 1:
      return tile<Rows, 1>(w, x, tile_sums, blocks, y, y_stride);
    case 2:
      return tile<Rows, 2>(w, x, tile_sums, blocks, y, y_stride);
    case 3:
      return tile<Rows, 3>(w, x, tile_sums, blocks, y, y_stride);
    case 4:
      return tile<Rows, 4>(w, x, tile_sums, blocks, y, y_stride);
    case 5:
      return tile<Rows, 5>(w, x, tile_sums, blocks, y, y_stride);
    case 6:
      return tile<Rows, 6>(w, x, tile_sums, blocks, y, y_stride);
    case 7:
      return tile<Rows, 7>(w, x, tile_sums, blocks, y, y_stride);
    case 8:
      return tile<Rows, 8>(w, x, tile_sums, blocks, y, y_stride);
    default:
      return;
  }
}

}  // namespace
#endif

bool has_dot_tile([[maybe_unused]] DType type) {
#ifdef TROUPE_DOT_TILES
  return type == DType::Q4_1 || type == DType::Q8_0;
#else
  return false;
#endif
}

void dot_tile([[maybe_unused]] DType type, [[maybe_unused]] const std::byte* const rows[kTileRows],
              [[maybe_unused]] const ActivationBlock* const x[], [[maybe_unused]] int tokens,
              [[maybe_unused]] const float* tile_sums, [[maybe_unused]] int64_t elements,
              [[maybe_unused]] float* y, [[maybe_unused]] int64_t y_stride) {
#ifdef TROUPE_DOT_TILES
  if (type == DType::Q4_1) {
    dispatch_tile<Q4_1Rows>(rows, x, tokens, tile_sums, elements, y, y_stride);
  } else if (type == DType::Q8_0) {
    dispatch_tile<Q8_0Rows>(rows, x, tokens, tile_sums, elements, y, y_stride);
  }
#endif
}

}  // namespace troupe
