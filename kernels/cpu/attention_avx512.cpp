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
constexpr int kMaxQueries = 4;  // query heads per pass: 4 x 4 accumulators, and the loads
constexpr int kMaxChunks = 4;   // 16-dimension chunks of the output per pass

__m512 load_halves(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// Scores of NQ queries against the tile's runs of 16 slots, run r's dimension 0 at runs[r]. All
// kRuns runs are computed: a run past the tile's positions repeats a real one and is not kept.
template <int NQ>
void score_tile(const float* q, int head_dim, const uint16_t* const runs[kRuns], int block_size,
                float scale, float* out) {
  __m512 dot[NQ][kRuns];
  for (auto& query : dot) {
    for (auto& d : query) d = _mm512_setzero_ps();
  }
  for (int d = 0; d < head_dim; ++d) {
    __m512 key[kRuns];
    for (int r = 0; r < kRuns; ++r) key[r] = load_halves(runs[r] + d * block_size);
    for (int g = 0; g < NQ; ++g) {
      const __m512 qd = _mm512_set1_ps(q[g * head_dim + d]);
      for (int r = 0; r < kRuns; ++r) dot[g][r] = _mm512_fmadd_ps(qd, key[r], dot[g][r]);
    }
  }
  const __m512 s = _mm512_set1_ps(scale);
  for (int g = 0; g < NQ; ++g) {
    for (int r = 0; r < kRuns; ++r) {
      _mm512_storeu_ps(out + g * kAttentionTile + r * kLanes, _mm512_mul_ps(dot[g][r], s));
    }
  }
}

// out[g][d0 .. d0 + 16 C) += weight[g][i] * row of position first + i, position by position,
// one block's run of rows at a time, for NQ queries.
template <int NQ, int C>
void accumulate_values(const float* weight, const uint16_t* const* value_blocks, int block_size,
                       int row_stride, int first, int count, int head_dim, int d0, float* out) {
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
      __m512 value[C];
      for (int c = 0; c < C; ++c) value[c] = load_halves(row + c * kLanes);
      for (int g = 0; g < NQ; ++g) {
        const __m512 w = _mm512_set1_ps(weight[g * kAttentionTile + i]);
        for (int c = 0; c < C; ++c) acc[g][c] = _mm512_fmadd_ps(w, value[c], acc[g][c]);
      }
    }
    p += run;
  }
  for (int g = 0; g < NQ; ++g) {
    for (int c = 0; c < C; ++c) _mm512_storeu_ps(out + g * head_dim + d0 + c * kLanes, acc[g][c]);
  }
}

template <int NQ>
void values_pass(const float* weight, const uint16_t* const* value_blocks, int block_size,
                 int row_stride, int first, int count, int head_dim, int d0, int chunks,
                 float* out) {
  switch (chunks) {
    case 4:
      return accumulate_values<NQ, 4>(weight, value_blocks, block_size, row_stride, first, count,
                                      head_dim, d0, out);
    case 3:
      return accumulate_values<NQ, 3>(weight, value_blocks, block_size, row_stride, first, count,
                                      head_dim, d0, out);
    case 2:
      return accumulate_values<NQ, 2>(weight, value_blocks, block_size, row_stride, first, count,
                                      head_dim, d0, out);
    default:
      return accumulate_values<NQ, 1>(weight, value_blocks, block_size, row_stride, first, count,
                                      head_dim, d0, out);
  }
}

}  // namespace

void attention_scores(const float* q, int queries, const uint16_t* const* key_blocks,
                      int block_size, int first, int count, int head_dim, float scale, float* out) {
  if (block_size % kLanes != 0 || first % kLanes != 0) {
    return scalar::attention_scores(q, queries, key_blocks, block_size, first, count, head_dim,
                                    scale, out);
  }
  // Runs of 16 slots never cross a block. The last one may reach past the positions into its
  // block's unused slots: computed whole, kept in part (out has kAttentionTile per query).
  const uint16_t* runs[kRuns];
  for (int r = 0; r < kRuns; ++r) {
    const int p = r * kLanes < count ? first + r * kLanes : first;
    runs[r] = key_blocks[p / block_size] + p % block_size;
  }
  for (int g = 0; g < queries; g += kMaxQueries) {
    const float* qg = q + g * head_dim;
    float* og = out + g * kAttentionTile;
    switch (queries - g < kMaxQueries ? queries - g : kMaxQueries) {
      case 4:
        score_tile<4>(qg, head_dim, runs, block_size, scale, og);
        break;
      case 3:
        score_tile<3>(qg, head_dim, runs, block_size, scale, og);
        break;
      case 2:
        score_tile<2>(qg, head_dim, runs, block_size, scale, og);
        break;
      default:
        score_tile<1>(qg, head_dim, runs, block_size, scale, og);
        break;
    }
  }
}

void attention_values(const float* weight, int queries, const uint16_t* const* value_blocks,
                      int block_size, int row_stride, int first, int count, int head_dim,
                      float* out) {
  if (head_dim % kLanes != 0) {
    return scalar::attention_values(weight, queries, value_blocks, block_size, row_stride, first,
                                    count, head_dim, out);
  }
  for (int g = 0; g < queries; g += kMaxQueries) {
    const float* wg = weight + g * kAttentionTile;
    float* og = out + g * head_dim;
    const int nq = queries - g < kMaxQueries ? queries - g : kMaxQueries;
    for (int d0 = 0; d0 < head_dim; d0 += kMaxChunks * kLanes) {
      const int left = (head_dim - d0) / kLanes;
      const int chunks = left < kMaxChunks ? left : kMaxChunks;
      switch (nq) {
        case 4:
          values_pass<4>(wg, value_blocks, block_size, row_stride, first, count, head_dim, d0,
                         chunks, og);
          break;
        case 3:
          values_pass<3>(wg, value_blocks, block_size, row_stride, first, count, head_dim, d0,
                         chunks, og);
          break;
        case 2:
          values_pass<2>(wg, value_blocks, block_size, row_stride, first, count, head_dim, d0,
                         chunks, og);
          break;
        default:
          values_pass<1>(wg, value_blocks, block_size, row_stride, first, count, head_dim, d0,
                         chunks, og);
          break;
      }
    }
  }
}

}  // namespace troupe::avx512
