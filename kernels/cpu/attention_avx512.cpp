// AVX-512 attention kernels, equal to the scalar ones (attention_scalar.cpp) bit for bit: the
// same lanes, the same reduction tree. Compiled for AVX-512, called only where the CPU has it.
// Keys are transposed in their blocks ([dim][block_size]), so one dimension of 16 consecutive
// positions is one vector load.
#include "kernels/cpu/avx512.hpp"  // first: it turns GCC's false uninitialized warnings off
#include "kernels/cpu/kernel_variants.hpp"

namespace troupe::avx512 {
namespace {

constexpr int kLanes = 16;

// reduce_16_lanes for 16 columns at once.
__m512 reduce_16_vectors(const __m512 v[kLanes]) {
  __m512 half[8], quarter[4];
  for (int k = 0; k < 8; ++k) half[k] = _mm512_add_ps(v[k + 8], v[k]);
  for (int k = 0; k < 4; ++k) quarter[k] = _mm512_add_ps(half[k + 4], half[k]);
  return _mm512_add_ps(_mm512_add_ps(quarter[0], quarter[2]),
                       _mm512_add_ps(quarter[1], quarter[3]));
}

// scalar::attention_scores for the 16 slots from `slot` (a multiple of 16), one per lane.
void scores_16(const float* q, const uint16_t* keys, int block_size, int slot, int head_dim,
               float scale, float* out) {
  __m512 lanes[kLanes];
  for (auto& l : lanes) l = _mm512_setzero_ps();
  for (int i0 = 0; i0 < head_dim; i0 += kLanes) {
#pragma GCC unroll 16
    for (int l = 0; l < kLanes; ++l) {
      if (i0 + l >= head_dim) break;
      const uint16_t* k = keys + (i0 + l) * block_size + slot;
      const __m512 kf = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(k)));
      lanes[l] = _mm512_fmadd_ps(_mm512_set1_ps(q[i0 + l]), kf, lanes[l]);
    }
  }
  _mm512_storeu_ps(out, _mm512_mul_ps(reduce_16_vectors(lanes), _mm512_set1_ps(scale)));
}

// scalar::attention_values for a head_dim that is a multiple of 16: 16 dimensions at a time,
// the 16 position lanes in registers.
void weighted_values_16(const float* weight, const uint16_t* const* value_rows, int length,
                        int head_dim, float* out) {
  for (int d = 0; d < head_dim; d += kLanes) {
    __m512 lanes[kLanes];
    for (auto& l : lanes) l = _mm512_setzero_ps();
    for (int p0 = 0; p0 < length; p0 += kLanes) {
#pragma GCC unroll 16
      for (int l = 0; l < kLanes; ++l) {
        const int p = p0 + l;
        if (p >= length) break;
        const auto* v = reinterpret_cast<const __m256i*>(value_rows[p] + d);
        lanes[l] = _mm512_fmadd_ps(_mm512_set1_ps(weight[p]),
                                   _mm512_cvtph_ps(_mm256_loadu_si256(v)), lanes[l]);
      }
    }
    _mm512_storeu_ps(out + d, reduce_16_vectors(lanes));
  }
}

}  // namespace

void attention_scores(const float* q, const uint16_t* keys, int block_size, int count, int head_dim,
                      float scale, float* out) {
  if (block_size % kLanes != 0) {
    return scalar::attention_scores(q, keys, block_size, count, head_dim, scale, out);
  }
  for (int slot = 0; slot < count; slot += kLanes) {
    if (slot + kLanes <= count) {
      scores_16(q, keys, block_size, slot, head_dim, scale, out + slot);
    } else {  // the block's last, partly filled slots: computed whole, kept in part
      float tail[kLanes];
      scores_16(q, keys, block_size, slot, head_dim, scale, tail);
      for (int s = slot; s < count; ++s) out[s] = tail[s - slot];
    }
  }
}

void attention_values(const float* weight, const uint16_t* const* value_rows, int length,
                      int head_dim, float* out) {
  if (head_dim % kLanes != 0) {
    return scalar::attention_values(weight, value_rows, length, head_dim, out);
  }
  weighted_values_16(weight, value_rows, length, head_dim, out);
}

}  // namespace troupe::avx512
