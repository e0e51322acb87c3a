// The packed BF16 kernels (layout in packed_rows.cpp), compiled for AVX-512 and called only on
// CPUs that have it. packed_bf16: a BF16 value is the upper half of an FP32 one, so one shift and
// one mask widen a register of 16 rows x 2 columns into two registers of FP32 weights, and FP32
// activations, broadcast, meet them in fused multiply-adds: exact products of the stored weights
// and the unrounded activations, at the FMA rate. packed_bf16_rounded (AVX-512 BF16 besides):
// activations the caller rounded to BF16, in vdpbf16ps, twice the multiply-adds where it issues
// at the FMA's rate (AMD), a quarter of them where it does not (Sapphire Rapids);
// cpu_features.hpp's bf16_dot_products() picks (kernels/README.md).
#include "kernels/cpu/avx512.hpp"  // first: it turns GCC's false uninitialized warnings off
#include "kernels/cpu/kernel_variants.hpp"

namespace troupe {
// cpu_features.hpp's, declared here alone: that header brings std templates, which a file
// compiled for AVX-512 must not instantiate (kernel_variants.hpp).
int64_t stream_prefetch_bytes();
}  // namespace troupe

namespace troupe::avx512 {
namespace {

// Every (row, token) is one chain of fused multiply-adds over its columns in order, whatever the
// tile: a batch never changes a result. A group is 32 rows, two registers; a tile of 12 tokens
// keeps 24 accumulators, so each column pair's two loads and four widening operations serve 48
// multiply-adds (the widening runs on the FMA ports). A single token reads each weight once and
// waits on memory: it prefetches `prefetch` bytes ahead of the pair it reads
// (stream_prefetch_bytes: on a Zen 4 EPYC, 8 KiB against the 2 KiB this file had took BF16
// decode from 130-163 to 155-161 tok/s).
template <int T>
void bf16_tile(const int32_t* w, int64_t pairs, const float* x, int64_t x_stride, float* y,
               int64_t y_stride, int64_t prefetch) {
  __m512 sum[T][2];
  for (int t = 0; t < T; ++t) sum[t][0] = sum[t][1] = _mm512_setzero_ps();
  const __m512i upper = _mm512_set1_epi32(static_cast<int32_t>(0xffff0000u));
  for (int64_t k = 0; k < pairs; ++k) {
    const int32_t* at = w + k * 32;
    if constexpr (T == 1) {
      _mm_prefetch(reinterpret_cast<const char*>(at) + prefetch, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(at) + prefetch + 64, _MM_HINT_T0);
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

// The same product in vdpbf16ps, on CPUs that have AVX-512 BF16, against activations already
// rounded to BF16 (to nearest even, as vLLM's and llama.cpp's BF16 paths round theirs; once per
// product, by the caller), a pair of columns per instruction with no widening. Where it issues at
// the FMA's rate (AMD Zen 4: one 512-bit vdpbf16ps, FMA or vpdpbusd a cycle a core) that is twice
// the multiply-adds. Per (row, token) the chain of vdpbf16ps over the pairs is the same whatever
// the tile, so a batch never changes a result here either.
template <int T>
__attribute__((target("avx512bf16"))) void bf16_dot_tile(const int32_t* w, int64_t pairs,
                                                         const uint16_t* x, int64_t x_stride,
                                                         float* y, int64_t y_stride,
                                                         int64_t prefetch) {
  __m512 sum[T][2];
  for (int t = 0; t < T; ++t) sum[t][0] = sum[t][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < pairs; ++k) {
    const int32_t* at = w + k * 32;
    if constexpr (T == 1) {
      _mm_prefetch(reinterpret_cast<const char*>(at) + prefetch, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(at) + prefetch + 64, _MM_HINT_T0);
    }
    const __m512bh w0 = reinterpret_cast<__m512bh>(_mm512_load_si512(at));
    const __m512bh w1 = reinterpret_cast<__m512bh>(_mm512_load_si512(at + 16));
    for (int t = 0; t < T; ++t) {
      // Token t's columns 2k and 2k + 1 in every 32-bit lane (an unaligned load: any type may
      // alias it).
      const __m512bh xt = reinterpret_cast<__m512bh>(
          _mm512_broadcastd_epi32(_mm_loadu_si32(x + t * x_stride + 2 * k)));
      sum[t][0] = _mm512_dpbf16_ps(sum[t][0], w0, xt);
      sum[t][1] = _mm512_dpbf16_ps(sum[t][1], w1, xt);
    }
  }
  for (int t = 0; t < T; ++t) {
    for (int h = 0; h < 2; ++h) _mm512_storeu_ps(y + t * y_stride + 16 * h, sum[t][h]);
  }
}

// Tiles of T tokens from token t on, while whole ones fit; returns the first token left.
// Activation: float (FP32 activations) or uint16_t (BF16 ones, for vdpbf16ps).
template <int T, typename Activation>
int64_t tiles(const int32_t* w, int64_t cols, const Activation* x, int64_t t, int64_t tokens,
              float* y, int64_t y_stride, int64_t prefetch) {
  for (; t + T <= tokens; t += T) {
    if constexpr (sizeof(Activation) == 2) {
      bf16_dot_tile<T>(w, cols / 2, x + t * cols, cols, y + t * y_stride, y_stride, prefetch);
    } else {
      bf16_tile<T>(w, cols / 2, x + t * cols, cols, y + t * y_stride, y_stride, prefetch);
    }
  }
  return t;
}

template <typename Activation>
void product(const std::byte* group, int64_t cols, const Activation* x, int64_t tokens, float* y,
             int64_t y_stride) {
  const auto* w = reinterpret_cast<const int32_t*>(group);
  const int64_t prefetch = stream_prefetch_bytes();
  int64_t t = tiles<12>(w, cols, x, 0, tokens, y, y_stride, prefetch);
  t = tiles<8>(w, cols, x, t, tokens, y, y_stride, prefetch);
  t = tiles<4>(w, cols, x, t, tokens, y, y_stride, prefetch);
  t = tiles<2>(w, cols, x, t, tokens, y, y_stride, prefetch);
  tiles<1>(w, cols, x, t, tokens, y, y_stride, prefetch);
}

}  // namespace

void packed_bf16_rounded(const std::byte* group, int64_t cols, const uint16_t* x, int64_t tokens,
                         float* y, int64_t y_stride) {
  product(group, cols, x, tokens, y, y_stride);
}

void packed_bf16(const std::byte* group, int64_t cols, const float* x, int64_t tokens, float* y,
                 int64_t y_stride) {
  product(group, cols, x, tokens, y, y_stride);
}

}  // namespace troupe::avx512
