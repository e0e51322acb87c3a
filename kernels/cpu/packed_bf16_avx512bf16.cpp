// The packed BF16 kernel (layout in packed_rows.cpp), compiled for AVX-512 with BF16 and called
// only on CPUs that have it. A token's pair of BF16 activations, broadcast, meets the same two
// columns of 16 rows in one vdpbf16ps, and the 16 row sums land in one register.
#include "kernels/cpu/avx512.hpp"  // first: it turns GCC's false uninitialized warnings off
#include "kernels/cpu/kernel_variants.hpp"

namespace troupe::avx512bf16 {
namespace {

// Every (row, token) sums its column pairs in two chains, even pairs and odd pairs, added at the
// end, whatever the tile: a batch never changes a result.
constexpr int kChains = 2;

// How far ahead of the pair being read a single-token product prefetches its weights.
constexpr int64_t kPrefetchBytes = 2048;

template <int T>
void group_tile(const uint32_t* w, int64_t pairs, const uint32_t* x, int64_t x_stride, float* y,
                int64_t y_stride) {
  __m512 acc[T][kChains];
  for (auto& token : acc) {
    for (auto& chain : token) chain = _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < pairs; k += kChains) {
    if constexpr (T == 1) {
      // One token reads each weight once: the loop waits on memory (packed_rows_avx512.cpp).
      const auto* ahead = reinterpret_cast<const char*>(w + k * 16) + kPrefetchBytes;
      _mm_prefetch(ahead, _MM_HINT_T0);
      _mm_prefetch(ahead + 64, _MM_HINT_T0);
    }
    for (int c = 0; c < kChains; ++c) {
      const __m512i weights = _mm512_load_si512(w + (k + c) * 16);
      for (int t = 0; t < T; ++t) {
        const __m512i pair = _mm512_set1_epi32(static_cast<int>(x[t * x_stride + k + c]));
        acc[t][c] = _mm512_dpbf16_ps(acc[t][c], (__m512bh)weights, (__m512bh)pair);
      }
    }
  }
  for (int t = 0; t < T; ++t)
    _mm512_storeu_ps(y + t * y_stride, _mm512_add_ps(acc[t][0], acc[t][1]));
}

template <int kTokens>
int64_t tiles(const uint32_t* w, int64_t pairs, const uint32_t* x, int64_t t, int64_t tokens,
              float* y, int64_t y_stride) {
  for (; t + kTokens <= tokens; t += kTokens) {
    group_tile<kTokens>(w, pairs, x + t * pairs, pairs, y + t * y_stride, y_stride);
  }
  return t;
}

}  // namespace

void packed_bf16(const std::byte* group, int64_t cols, const uint16_t* x, int64_t tokens, float* y,
                 int64_t y_stride) {
  const auto* w = reinterpret_cast<const uint32_t*>(group);
  const auto* pairs_of_x = reinterpret_cast<const uint32_t*>(x);
  const int64_t pairs = cols / 2;
  int64_t t = tiles<8>(w, pairs, pairs_of_x, 0, tokens, y, y_stride);
  t = tiles<4>(w, pairs, pairs_of_x, t, tokens, y, y_stride);
  t = tiles<2>(w, pairs, pairs_of_x, t, tokens, y, y_stride);
  tiles<1>(w, pairs, pairs_of_x, t, tokens, y, y_stride);
}

void to_bf16(const float* x, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512bh both = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
    _mm512_storeu_si512(out + i, (__m512i)both);
  }
  for (; i < n; i += 16) {
    const __mmask16 live = static_cast<__mmask16>((1u << (n - i < 16 ? n - i : 16)) - 1);
    const __m256bh half = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(live, x + i));
    _mm256_mask_storeu_epi16(out + i, live, (__m256i)half);
  }
}

}  // namespace troupe::avx512bf16
