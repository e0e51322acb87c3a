// AVX-512 attention kernels, equal to the scalar ones (attention_scalar.cpp) bit for bit: the
// same chains of fused multiply-adds, 16 positions or 16 dimensions to a register. Compiled for
// AVX-512, called only where the CPU has it. Keys are transposed in their blocks
// ([dim][block_size]), so one dimension of 16 consecutive positions is one vector load; each
// key and value loaded serves every query head of the group (grouped-query attention).
#include "kernels/cpu/avx512.hpp"  // first: it turns GCC's false uninitialized warnings off
#include "kernels/cpu/kernel_variants.hpp"

namespace troupe::avx512 {
namespace {

constexpr int kLanes = 16;
constexpr int kRuns = kAttentionTile / kLanes;  // runs of 16 positions in a tile
// A pass keeps queries x (runs or 16-dimension chunks) accumulators in registers, at most 24 of
// the 32 (the loaded keys or values and a broadcast take the rest): up to 6 queries against a
// tile's 4 runs or 4 chunks, up to kAttentionQueries (12) against 2. The more queries a loaded
// key or value meets, the fewer conversions from F16 per fused multiply-add.
constexpr int kQueriesFor4 = 6;
static_assert(kAttentionQueries * 2 <= 24 && kQueriesFor4 * 4 <= 24);

// Asks for the queue's next two lines a step into L2 (the next tile's 16 KB would push this
// tile's out of L1), without a branch (line_queue.hpp). A tile's keys and values are 256 lines
// (64 positions, 64 dimensions in F16); its scores and values take 128 steps at SmolLM2's head
// size.
struct Asking {
  explicit Asking(const LineQueue& queue)
      : run(queue.run), last(queue.last), run_bytes(queue.run_bytes), offset(queue.offset) {}
  void next_lines() {
    __builtin_prefetch(*run + offset, 0, 2);
    __builtin_prefetch(*run + offset + 64, 0, 2);
    offset += 128;
    const bool run_done = offset == run_bytes;
    run += run_done & (run < last);
    offset = run_done ? 0 : offset;
  }
  void leave(LineQueue& queue) const {
    queue.run = run;
    queue.offset = offset;
  }
  const char* const* run;
  const char* const* last;
  int run_bytes, offset;
};

__m512 load_halves(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// Scores of NQ queries against R runs of 16 slots, run r's dimension 0 at runs[r], into
// out[g * kAttentionTile + r * 16 ..]. A run past the tile's positions repeats a real one and is
// not kept.
template <int NQ, int R>
void score_tile(const float* q, int head_dim, const uint16_t* const* runs, int block_size,
                float scale, float* out, LineQueue& ahead) {
  Asking asking(ahead);
  __m512 dot[NQ][R];
  for (auto& query : dot) {
    for (auto& d : query) d = _mm512_setzero_ps();
  }
  for (int d = 0; d < head_dim; ++d) {
    asking.next_lines();
    __m512 key[R];
    for (int r = 0; r < R; ++r) key[r] = load_halves(runs[r] + d * block_size);
    for (int g = 0; g < NQ; ++g) {
      const __m512 qd = _mm512_set1_ps(q[g * head_dim + d]);
      for (int r = 0; r < R; ++r) dot[g][r] = _mm512_fmadd_ps(qd, key[r], dot[g][r]);
    }
  }
  asking.leave(ahead);
  const __m512 s = _mm512_set1_ps(scale);
  for (int g = 0; g < NQ; ++g) {
    for (int r = 0; r < R; ++r) {
      _mm512_storeu_ps(out + g * kAttentionTile + r * kLanes, _mm512_mul_ps(dot[g][r], s));
    }
  }
}

// score_tile for nq <= NQ queries.
template <int R, int NQ>
void score_queries(int nq, const float* q, int head_dim, const uint16_t* const* runs,
                   int block_size, float scale, float* out, LineQueue& ahead) {
  if constexpr (NQ > 1) {
    if (nq < NQ) {
      return score_queries<R, NQ - 1>(nq, q, head_dim, runs, block_size, scale, out, ahead);
    }
  }
  score_tile<NQ, R>(q, head_dim, runs, block_size, scale, out, ahead);
}

// out[g][d0 .. d0 + 16 C) += weight[g][i] * row of position first + i, position by position,
// one block's run of rows at a time, for NQ queries.
template <int NQ, int C>
void accumulate_values(const float* weight, const uint16_t* const* value_blocks, int block_size,
                       int row_stride, int first, int count, int head_dim, int d0, float* out,
                       LineQueue& ahead) {
  Asking asking(ahead);
  __m512 acc[NQ][C];
  for (int g = 0; g < NQ; ++g) {
    for (int c = 0; c < C; ++c) acc[g][c] = _mm512_loadu_ps(out + g * head_dim + d0 + c * kLanes);
  }
  const int end = first + count;
  for (int p = first; p < end;) {
    const int slot = p % block_size;
    const int run = block_size - slot < end - p ? block_size - slot : end - p;
    const uint16_t* row = value_blocks[p / block_size] + slot * row_stride + d0;
    for (int i = p - first; i < p - first + run; ++i, row += row_stride) {
      asking.next_lines();
      __m512 value[C];
      for (int c = 0; c < C; ++c) value[c] = load_halves(row + c * kLanes);
      for (int g = 0; g < NQ; ++g) {
        const __m512 w = _mm512_set1_ps(weight[g * kAttentionTile + i]);
        for (int c = 0; c < C; ++c) acc[g][c] = _mm512_fmadd_ps(w, value[c], acc[g][c]);
      }
    }
    p += run;
  }
  asking.leave(ahead);
  for (int g = 0; g < NQ; ++g) {
    for (int c = 0; c < C; ++c) _mm512_storeu_ps(out + g * head_dim + d0 + c * kLanes, acc[g][c]);
  }
}

// accumulate_values for chunks <= C chunks.
template <int NQ, int C>
void value_chunks(int chunks, const float* weight, const uint16_t* const* value_blocks,
                  int block_size, int row_stride, int first, int count, int head_dim, int d0,
                  float* out, LineQueue& ahead) {
  if constexpr (C > 1) {
    if (chunks < C) {
      return value_chunks<NQ, C - 1>(chunks, weight, value_blocks, block_size, row_stride, first,
                                     count, head_dim, d0, out, ahead);
    }
  }
  accumulate_values<NQ, C>(weight, value_blocks, block_size, row_stride, first, count, head_dim, d0,
                           out, ahead);
}

// value_chunks for nq <= NQ queries.
template <int C, int NQ>
void value_queries(int nq, int chunks, const float* weight, const uint16_t* const* value_blocks,
                   int block_size, int row_stride, int first, int count, int head_dim, int d0,
                   float* out, LineQueue& ahead) {
  if constexpr (NQ > 1) {
    if (nq < NQ) {
      return value_queries<C, NQ - 1>(nq, chunks, weight, value_blocks, block_size, row_stride,
                                      first, count, head_dim, d0, out, ahead);
    }
  }
  value_chunks<NQ, C>(chunks, weight, value_blocks, block_size, row_stride, first, count, head_dim,
                      d0, out, ahead);
}

}  // namespace

// Where neither kernel falls back to the scalar one (a tile's first position is a multiple of
// 16 always).
bool attention_asks_ahead(int block_size, int head_dim) {
  return block_size % kLanes == 0 && head_dim % kLanes == 0;
}

void attention_scores(const float* q, int queries, const uint16_t* const* key_blocks,
                      int block_size, int first, int count, int head_dim, float scale, float* out,
                      LineQueue& ahead) {
  if (block_size % kLanes != 0 || first % kLanes != 0) {
    return scalar::attention_scores(q, queries, key_blocks, block_size, first, count, head_dim,
                                    scale, out, ahead);
  }
  // Runs of 16 slots never cross a block. The last one may reach past the positions into its
  // block's unused slots: computed whole, kept in part (out has kAttentionTile per query).
  const uint16_t* runs[kRuns];
  for (int r = 0; r < kRuns; ++r) {
    const int p = r * kLanes < count ? first + r * kLanes : first;
    runs[r] = key_blocks[p / block_size] + p % block_size;
  }
  for (int g = 0; g < queries; g += kAttentionQueries) {
    const float* qg = q + g * head_dim;
    float* og = out + g * kAttentionTile;
    const int nq = queries - g < kAttentionQueries ? queries - g : kAttentionQueries;
    if (nq <= kQueriesFor4) {
      score_queries<kRuns, kQueriesFor4>(nq, qg, head_dim, runs, block_size, scale, og, ahead);
      continue;
    }
    for (int r = 0; r < kRuns && r * kLanes < count; r += 2) {
      score_queries<2, kAttentionQueries>(nq, qg, head_dim, runs + r, block_size, scale,
                                          og + r * kLanes, ahead);
    }
  }
}

void attention_values(const float* weight, int queries, const uint16_t* const* value_blocks,
                      int block_size, int row_stride, int first, int count, int head_dim,
                      float* out, LineQueue& ahead) {
  if (head_dim % kLanes != 0) {
    return scalar::attention_values(weight, queries, value_blocks, block_size, row_stride, first,
                                    count, head_dim, out, ahead);
  }
  for (int g = 0; g < queries; g += kAttentionQueries) {
    const float* wg = weight + g * kAttentionTile;
    float* og = out + g * head_dim;
    const int nq = queries - g < kAttentionQueries ? queries - g : kAttentionQueries;
    const int most_chunks = nq <= kQueriesFor4 ? 4 : 2;
    for (int d0 = 0; d0 < head_dim; d0 += most_chunks * kLanes) {
      const int left = (head_dim - d0) / kLanes;
      const int chunks = left < most_chunks ? left : most_chunks;
      if (most_chunks == 4) {
        value_queries<4, kQueriesFor4>(nq, chunks, wg, value_blocks, block_size, row_stride, first,
                                       count, head_dim, d0, og, ahead);
      } else {
        value_queries<2, kAttentionQueries>(nq, chunks, wg, value_blocks, block_size, row_stride,
                                            first, count, head_dim, d0, og, ahead);
      }
    }
  }
}

}  // namespace troupe::avx512
