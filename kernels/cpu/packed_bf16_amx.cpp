// The packed BF16 product against BF16 activations on AMX-BF16 tiles (layout in
// packed_rows.cpp), compiled for AVX-512 and AMX and called only on CPUs that have them, in
// processes Linux has granted the tile data (cpu_features.cpp).
//
// A group's column pairs are already B tiles: 16 consecutive pairs of a half (16 rows) are 16
// rows of 64 bytes, 128 bytes apart. One tdpbf16ps multiplies 16 tokens' activations (an A tile,
// read in place, 32 columns a token) by one half's 32 columns and adds into a 16 x 16 tile of
// FP32 sums that stays in its register over all the columns, with no per-block step. Measured on a
// 2-core Xeon with AMX (51,200 random sums of 576 columns, kernels/README.md;
// tests/kernels/packed_rows_test.cpp checks the kernel against that model): for each output, a
// tdpbf16ps computes from zero the chain of even columns' products and the chain of odd columns'
// products (each product exact in FP32, each addition rounded to nearest even, denormals flushed),
// adds the two, then adds that to the sum. A tile's leftover tokens go through a padded tile, and a
// single token (a decode step) through that same arithmetic in AVX-512 fused multiply-adds, so
// every (row, token) comes out the same whatever the batch (short of products that overflow or
// underflow FP32, which an FMA does not round: far outside a model's range).
#include "kernels/cpu/avx512.hpp"  // first: it turns GCC's false uninitialized warnings off

#include "kernels/cpu/amx_tiles.hpp"
#include "kernels/cpu/kernel_variants.hpp"

namespace troupe {
// cpu_features.hpp's, declared here alone: that header brings std templates, which a file
// compiled for AVX-512 must not instantiate (kernel_variants.hpp).
int64_t stream_prefetch_bytes();
}  // namespace troupe

namespace troupe::amx {
namespace {

constexpr int kPairBytes = 128;   // a column pair of a 32-row group: 32 rows x 2 BF16
constexpr int kHalfBytes = 64;    // the same of one half (16 rows): a row of B
constexpr int kTileColumns = 32;  // columns of one tile product: B's 16 rows of pairs
constexpr int kTilePairs = kTileColumns / 2;
// A call over few tokens reads its group's weights (from DRAM, in a step) once or twice, and a
// tile load that misses stalls the tile unit: up to this many tokens its first pass asks for the
// lines kPrefetchAhead bytes (two steps of 32 columns) past those it loads. 32 concurrent streams
// on the BF16 model (bench offline, 128 in / 128 out, alternating): 931-985 -> 954-1005 output
// tok/s; longer prompts, whose later passes find the weights in cache, did not gain.
constexpr int64_t kPrefetchTokens = 64;
constexpr int64_t kPrefetchAhead = 4096;

// The lines of a step of 32 columns of a group, kPrefetchAhead bytes past `weights`.
inline void prefetch_step(const std::byte* weights) {
  const char* ahead = reinterpret_cast<const char*>(weights) + kPrefetchAhead;
  for (int line = 0; line < kTileColumns / 2 * kPairBytes / 64; ++line)
    _mm_prefetch(ahead + 64 * line, _MM_HINT_T0);
}

// One or two of the tokens' tiles of 16 from token t over every column: with two, each B tile
// serves two tile products; the tiles of sums stay in their registers throughout. (Taking the
// columns in chunks of 256 or 512, the sums going through y between chunks so that B stays in
// L1, was 6-10% slower in 512-token prompt processing.)
template <int kTokenTiles>
void token_tiles(const std::byte* group, int64_t cols, const uint16_t* x, float* y,
                 int64_t y_stride, bool prefetch) {
  static_assert(kTokenTiles == 1 || kTokenTiles == 2);
  const int64_t x_stride_bytes = cols * 2, y_stride_bytes = y_stride * 4;
  _tile_zero(0);
  _tile_zero(1);
  if constexpr (kTokenTiles == 2) {
    _tile_zero(2);
    _tile_zero(3);
  }
  for (int64_t c = 0; c < cols; c += kTileColumns) {
    const std::byte* weights = group + c / 2 * kPairBytes;
    if (prefetch) prefetch_step(weights);
    _tile_loadd(4, x + c, x_stride_bytes);
    _tile_loadd(6, weights, kPairBytes);
    _tile_loadd(7, weights + kHalfBytes, kPairBytes);
    if constexpr (kTokenTiles == 2) _tile_loadd(5, x + kTileTokens * cols + c, x_stride_bytes);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    if constexpr (kTokenTiles == 2) {
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
  }
  _tile_stored(0, y, y_stride_bytes);
  _tile_stored(1, y + 16, y_stride_bytes);
  if constexpr (kTokenTiles == 2) {
    _tile_stored(2, y + kTileTokens * y_stride, y_stride_bytes);
    _tile_stored(3, y + kTileTokens * y_stride + 16, y_stride_bytes);
  }
}

// Every whole tile of 16 tokens, two at a time while two fit; returns the tokens done.
int64_t tile_tokens(const std::byte* group, int64_t cols, const uint16_t* x, int64_t tokens,
                    float* y, int64_t y_stride) {
  const int64_t whole = tokens / kTileTokens * kTileTokens;
  if (whole == 0) return 0;
  use_tiles(TileShapes::bf16_pairs);
  const bool prefetch = tokens <= kPrefetchTokens;  // in the first pass
  int64_t t = 0;
  for (; t + 2 * kTileTokens <= whole; t += 2 * kTileTokens)
    token_tiles<2>(group, cols, x + t * cols, y + t * y_stride, y_stride, prefetch && t == 0);
  if (t < whole)
    token_tiles<1>(group, cols, x + t * cols, y + t * y_stride, y_stride, prefetch && t == 0);
  return whole;
}

// A BF16 value's FP32 bits from a 32-bit lane holding two: the lower (even column) or upper.
inline __m512 even_of(__m512i pairs) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(pairs, 16));
}
inline __m512 odd_of(__m512i pairs) {
  return _mm512_castsi512_ps(
      _mm512_and_si512(pairs, _mm512_set1_epi32(static_cast<int32_t>(0xffff0000u))));
}

// Two to 15 tokens on the tile unit: their activations copied, 32 columns at a time, into the
// first rows of an A tile of zeros, and the first rows of the sums copied out. (The tile unit
// takes a padded tile as fast as a whole one, which beats the FMAs from two tokens on.)
void padded_tile(const std::byte* group, int64_t cols, const uint16_t* x, int64_t tokens, float* y,
                 int64_t y_stride) {
  alignas(64) uint16_t a[kTileTokens][kTileColumns] = {};
  alignas(64) float sums[2][kTileTokens][16];
  use_tiles(TileShapes::bf16_pairs);
  _tile_zero(0);
  _tile_zero(1);
  for (int64_t c = 0; c < cols; c += kTileColumns) {
    for (int64_t t = 0; t < tokens; ++t) {
      _mm512_store_si512(a[t], _mm512_loadu_si512(x + t * cols + c));
    }
    const std::byte* weights = group + c / 2 * kPairBytes;
    prefetch_step(weights);
    _tile_loadd(4, a, kTileRowBytes);
    _tile_loadd(6, weights, kPairBytes);
    _tile_loadd(7, weights + kHalfBytes, kPairBytes);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
  }
  _tile_stored(0, sums[0], kTileRowBytes);
  _tile_stored(1, sums[1], kTileRowBytes);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int h = 0; h < 2; ++h)
      _mm512_storeu_ps(y + t * y_stride + 16 * h, _mm512_load_ps(sums[h][t]));
  }
}

// A single token's product in the tile unit's arithmetic, in fused multiply-adds (a product of
// two BF16 values is exact in FP32, so each one rounds as the tile's addition does): per 32
// columns an even and an odd chain from zero, added, then added to the sum. It reads each weight
// once and waits on memory: it prefetches `prefetch` bytes ahead of the pair it reads. Not
// inlined: its floating-point work stays between the caller's MXCSR changes.
__attribute__((noinline)) void chain_token(const std::byte* group, int64_t cols, const uint16_t* x,
                                           float* y, int64_t prefetch) {
  __m512 sum[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  for (int64_t first = 0; first < cols / 2; first += kTilePairs) {
    __m512 even[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    __m512 odd[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int64_t k = first; k < first + kTilePairs; ++k) {
      const std::byte* at = group + k * kPairBytes;
      _mm_prefetch(reinterpret_cast<const char*>(at) + prefetch, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(at) + prefetch + 64, _MM_HINT_T0);
      // Columns 2k and 2k + 1 in every 32-bit lane (an unaligned load: any type may alias it).
      const __m512i x_pair = _mm512_broadcastd_epi32(_mm_loadu_si32(x + 2 * k));
      const __m512 x_even = even_of(x_pair), x_odd = odd_of(x_pair);
      for (int h = 0; h < 2; ++h) {
        const __m512i pairs = _mm512_load_si512(at + h * kHalfBytes);
        even[h] = _mm512_fmadd_ps(even_of(pairs), x_even, even[h]);
        odd[h] = _mm512_fmadd_ps(odd_of(pairs), x_odd, odd[h]);
      }
    }
    for (int h = 0; h < 2; ++h) sum[h] = _mm512_add_ps(sum[h], _mm512_add_ps(even[h], odd[h]));
  }
  for (int h = 0; h < 2; ++h) _mm512_storeu_ps(y + 16 * h, sum[h]);
}

}  // namespace

void packed_bf16_rounded(const std::byte* group, int64_t cols, const uint16_t* x, int64_t tokens,
                         float* y, int64_t y_stride) {
  const int64_t t = tile_tokens(group, cols, x, tokens, y, y_stride);
  const int64_t left = tokens - t;
  if (left >= 2) {
    padded_tile(group, cols, x + t * cols, left, y + t * y_stride, y_stride);
  } else if (left == 1) {
    // The tile unit flushes denormal inputs and results to zero; so do the FMAs, for the call.
    const int64_t prefetch = stream_prefetch_bytes();
    const unsigned int mxcsr = _mm_getcsr();
    constexpr unsigned int kFlushToZero = 1u << 15, kDenormalsAreZero = 1u << 6;
    _mm_setcsr(mxcsr | kFlushToZero | kDenormalsAreZero);
    chain_token(group, cols, x + t * cols, y + t * y_stride, prefetch);
    _mm_setcsr(mxcsr);
  }
}

}  // namespace troupe::amx
