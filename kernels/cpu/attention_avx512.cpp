// AVX-512 attention kernels, equal to the scalar ones (attention_scalar.cpp) bit for bit: the
// same chains of fused multiply-adds, 16 positions or 16 dimensions to a register. Compiled for
// AVX-512, called only where the CPU has it. Keys are transposed in their blocks
// ([dim][block_size]), so one dimension of 16 consecutive positions is one vector load.
#include "kernels/cpu/avx512.hpp"  // first: it turns GCC's false uninitialized warnings off
#include "kernels/cpu/kernel_variants.hpp"

namespace troupe::avx512 {
namespace {

constexpr int kLanes = 16;
constexpr int kMaxChains = 4;  // independent chains in flight, to cover the FMA latency

__m512 load_halves(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// Scores of N runs of 16 consecutive slots, run c's dimension 0 at keys[c].
template <int N>
void score_runs(const float* q, const uint16_t* const* keys, int block_size, int head_dim,
                float scale, float* out) {
  __m512 dot[N];
  for (int c = 0; c < N; ++c) dot[c] = _mm512_setzero_ps();
  for (int i = 0; i < head_dim; ++i) {
    const __m512 qi = _mm512_set1_ps(q[i]);
    for (int c = 0; c < N; ++c) {
      dot[c] = _mm512_fmadd_ps(qi, load_halves(keys[c] + i * block_size), dot[c]);
    }
  }
  for (int c = 0; c < N; ++c) {
    _mm512_storeu_ps(out + c * kLanes, _mm512_mul_ps(dot[c], _mm512_set1_ps(scale)));
  }
}

// out[d0 .. d0 + 16 N) += weight[i] * row of position first + i, position by position, one
// block's run of rows at a time.
template <int N>
void accumulate_values(const float* weight, const uint16_t* const* value_blocks, int block_size,
                       int row_stride, int first, int count, int d0, float* out) {
  __m512 acc[N];
  for (int c = 0; c < N; ++c) acc[c] = _mm512_loadu_ps(out + d0 + c * kLanes);
  const int end = first + count;
  for (int p = first; p < end;) {
    const int slot = p % block_size;
    const int run = block_size - slot < end - p ? block_size - slot : end - p;
    const uint16_t* row = value_blocks[p / block_size] + slot * row_stride + d0;
    for (int i = 0; i < run; ++i, row += row_stride) {
      const __m512 w = _mm512_set1_ps(weight[p - first + i]);
      for (int c = 0; c < N; ++c) {
        acc[c] = _mm512_fmadd_ps(w, load_halves(row + c * kLanes), acc[c]);
      }
    }
    p += run;
  }
  for (int c = 0; c < N; ++c) _mm512_storeu_ps(out + d0 + c * kLanes, acc[c]);
}

}  // namespace

void attention_scores(const float* q, const uint16_t* const* key_blocks, int block_size, int first,
                      int count, int head_dim, float scale, float* out) {
  if (block_size % kLanes != 0 || first % kLanes != 0) {
    return scalar::attention_scores(q, key_blocks, block_size, first, count, head_dim, scale, out);
  }
  const int end = first + count;
  for (int p = first; p < end; p += kMaxChains * kLanes) {
    // Runs of 16 slots never cross a block. The last one may reach past `end` into its block's
    // unused slots: computed whole, kept in part.
    const uint16_t* runs[kMaxChains];
    int n = 0;
    for (; n < kMaxChains && p + n * kLanes < end; ++n) {
      const int r = p + n * kLanes;
      runs[n] = key_blocks[r / block_size] + r % block_size;
    }
    float scores[kMaxChains * kLanes];
    switch (n) {
      case 4: score_runs<4>(q, runs, block_size, head_dim, scale, scores); break;
      case 3: score_runs<3>(q, runs, block_size, head_dim, scale, scores); break;
      case 2: score_runs<2>(q, runs, block_size, head_dim, scale, scores); break;
      default: score_runs<1>(q, runs, block_size, head_dim, scale, scores); break;
    }
    const int kept = end - p < n * kLanes ? end - p : n * kLanes;
    for (int i = 0; i < kept; ++i) out[p - first + i] = scores[i];
  }
}

void attention_values(const float* weight, const uint16_t* const* value_blocks, int block_size,
                      int row_stride, int first, int count, int head_dim, float* out) {
  if (head_dim % kLanes != 0) {
    return scalar::attention_values(weight, value_blocks, block_size, row_stride, first, count,
                                    head_dim, out);
  }
  for (int d0 = 0; d0 < head_dim; d0 += kMaxChains * kLanes) {
    const int left = (head_dim - d0) / kLanes;
    switch (left < kMaxChains ? left : kMaxChains) {
      case 4:
        accumulate_values<4>(weight, value_blocks, block_size, row_stride, first, count, d0, out);
        break;
      case 3:
        accumulate_values<3>(weight, value_blocks, block_size, row_stride, first, count, d0, out);
        break;
      case 2:
        accumulate_values<2>(weight, value_blocks, block_size, row_stride, first, count, d0, out);
        break;
      default:
        accumulate_values<1>(weight, value_blocks, block_size, row_stride, first, count, d0, out);
        break;
    }
  }
}

}  // namespace troupe::avx512
