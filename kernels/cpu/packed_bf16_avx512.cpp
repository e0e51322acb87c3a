// The packed BF16 kernel (layout in packed_rows.cpp), compiled for AVX-512 and called only on
// CPUs that have it. A BF16 value is the upper half of an FP32 one, so one shift and one mask
// widen a register of 16 rows x 2 columns into two registers of FP32 weights, and FP32
// activations, broadcast, meet them in fused multiply-adds: exact products of the stored weights
// and the unrounded activations, at the FMA rate. (vdpbf16ps would take BF16 activations and, on
// Sapphire Rapids, runs at a quarter of the FMA's multiply-adds per cycle.)
#include "kernels/cpu/avx512.hpp"  // first: it turns GCC's false uninitialized warnings off
#include "kernels/cpu/kernel_variants.hpp"

namespace troupe::avx512 {
namespace {

// How far ahead of the pair being read a single-token product prefetches its weights.
constexpr int64_t kPrefetchBytes = 2048;

// Every (row, token) is one chain of fused multiply-adds over its columns in order, whatever the
// tile: a batch never changes a result. A group is 32 rows, two registers; a tile of 12 tokens
// keeps 24 accumulators, so each column pair's two loads and four widening operations serve 48
// multiply-adds (the widening runs on the FMA ports).
template <int T>
void bf16_tile(const int32_t* w, int64_t pairs, const float* x, int64_t x_stride, float* y,
               int64_t y_stride) {
  __m512 sum[T][2];
  for (int t = 0; t < T; ++t) sum[t][0] = sum[t][1] = _mm512_setzero_ps();
  const __m512i upper = _mm512_set1_epi32(static_cast<int32_t>(0xffff0000u));
  for (int64_t k = 0; k < pairs; ++k) {
    const int32_t* at = w + k * 32;
    if constexpr (T == 1) {
      // One token reads each weight once: the loop waits on memory (packed_rows_avx512.cpp).
      _mm_prefetch(reinterpret_cast<const char*>(at) + kPrefetchBytes, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(at) + kPrefetchBytes + 64, _MM_HINT_T0);
    }
    __m512 even[2], odd[2];
    for (int h = 0; h < 2; ++h) {
      const __m512i pair = _mm512_load_si512(at + 16 * h);
      even[h] = _mm512_castsi512_ps(_mm512_slli_epi32(pair, 16));
      odd[h] = _mm512_castsi512_ps(_mm512_and_si512(pair, upper));
    }
    for (int t = 0; t < T; ++t) {
      const float* xt = x + t * x_stride + 2 * k;
      const __m512 x_even = _mm512_set1_ps(xt[0]), x_odd = _mm512_set1_ps(xt[1]);
      for (int h = 0; h < 2; ++h) {
        sum[t][h] = _mm512_fmadd_ps(odd[h], x_odd, _mm512_fmadd_ps(even[h], x_even, sum[t][h]));
      }
    }
  }
  for (int t = 0; t < T; ++t) {
    for (int h = 0; h < 2; ++h) _mm512_storeu_ps(y + t * y_stride + 16 * h, sum[t][h]);
  }
}

template <int kTokens>
int64_t bf16_tiles(const int32_t* w, int64_t cols, const float* x, int64_t t, int64_t tokens,
                   float* y, int64_t y_stride) {
  for (; t + kTokens <= tokens; t += kTokens) {
    bf16_tile<kTokens>(w, cols / 2, x + t * cols, cols, y + t * y_stride, y_stride);
  }
  return t;
}

}  // namespace

void packed_bf16(const std::byte* group, int64_t cols, const float* x, int64_t tokens, float* y,
                 int64_t y_stride) {
  const auto* w = reinterpret_cast<const int32_t*>(group);
  int64_t t = bf16_tiles<12>(w, cols, x, 0, tokens, y, y_stride);
  t = bf16_tiles<8>(w, cols, x, t, tokens, y, y_stride);
  t = bf16_tiles<4>(w, cols, x, t, tokens, y, y_stride);
  t = bf16_tiles<2>(w, cols, x, t, tokens, y, y_stride);
  bf16_tiles<1>(w, cols, x, t, tokens, y, y_stride);
}

}  // namespace troupe::avx512
