// AVX-512 variants of SiLU-times-up and softmax's exponentials, equal to the scalar ones bit for
// bit (the same fast_exp, the same 16-lane sums). Compiled for AVX-512, called only where the
// CPU has it.
#include "kernels/cpu/avx512.hpp"  // first: it turns GCC's false uninitialized warnings off
#include "kernels/cpu/fast_exp_avx512.hpp"
#include "kernels/cpu/kernel_variants.hpp"

namespace troupe::avx512 {
namespace {

__mmask16 first_lanes(int64_t count) {
  return count >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << count) - 1);
}

}  // namespace

void silu_mul(float* gate, const float* up, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 valid = first_lanes(n - i);
    const __m512 g = _mm512_maskz_loadu_ps(valid, gate + i);
    const __m512 e = fast_exp(_mm512_sub_ps(_mm512_setzero_ps(), g));
    const __m512 u = _mm512_maskz_loadu_ps(valid, up + i);
    _mm512_mask_storeu_ps(gate + i, valid,
                          _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(one, e)), u));
  }
}

double exp_shifted_sum(float* x, int64_t n, float max) {
  double sum = 0;
  for (int64_t chunk = 0; chunk < n; chunk += 16) {
    const __mmask16 valid = first_lanes(n - chunk);
    const __m512 shifted =
        _mm512_sub_ps(_mm512_maskz_loadu_ps(valid, x + chunk), _mm512_set1_ps(max));
    const __m512 e = _mm512_maskz_mov_ps(valid, fast_exp(shifted));
    _mm512_mask_storeu_ps(x + chunk, valid, e);
    sum += _mm512_reduce_add_ps(e);  // reduce_16_lanes' order, in registers
  }
  return sum;
}

void softmax_tile(float* scores, int rows, const int* counts, float* max, double* tile_sum) {
  // Rows one after the other, no call through the kernel table between them: the out-of-order
  // core overlaps one row's chains of reductions and exponentials with the next row's.
  for (int g = 0; g < rows; ++g) {
    float* row = scores + g * kAttentionTile;
    __m512 m = _mm512_set1_ps(max[g]);
    for (int i = 0; i < counts[g]; i += 16) {
      const __mmask16 valid = first_lanes(counts[g] - i);
      m = _mm512_mask_max_ps(m, valid, _mm512_loadu_ps(row + i), m);  // a NaN score keeps m
    }
    max[g] = _mm512_reduce_max_ps(m);
    tile_sum[g] = exp_shifted_sum(row, counts[g], max[g]);
  }
}

int64_t argmax(const float* x, int64_t n) {
  // Each lane keeps its first largest value and that value's index; then the smallest index
  // among the lanes that hold the overall largest.
  __m512 best = _mm512_set1_ps(-INFINITY);
  __m512i at = _mm512_set1_epi32(-1);
  __m512i index = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i step = _mm512_set1_epi32(16);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 valid = first_lanes(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(valid, x + i);
    const __mmask16 larger = _mm512_mask_cmp_ps_mask(valid, v, best, _CMP_GT_OQ);
    best = _mm512_mask_mov_ps(best, larger, v);
    at = _mm512_mask_mov_epi32(at, larger, index);
    index = _mm512_add_epi32(index, step);
  }
  const float largest = _mm512_reduce_max_ps(best);
  const __mmask16 holders = _mm512_cmp_ps_mask(best, _mm512_set1_ps(largest), _CMP_EQ_OQ) &
                            _mm512_cmpge_epi32_mask(at, _mm512_setzero_si512());
  if (holders == 0) return 0;
  return _mm512_mask_reduce_min_epi32(holders, at);
}

// The scalar kernel's integer rounding, 16 lanes at a time (AVX-512 F and BW: no BF16
// instruction needed).
void round_to_bf16(const float* x, uint16_t* out, int64_t n) {
  const __m512i half = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1);
  const __m512i quiet = _mm512_set1_epi32(kQuietBf16);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 valid = first_lanes(n - i);
    const __m512 values = _mm512_maskz_loadu_ps(valid, x + i);
    const __m512i bits = _mm512_castps_si512(values);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), one);
    const __m512i rounded =
        _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(half, odd)), 16);
    const __mmask16 nan = _mm512_cmp_ps_mask(values, values, _CMP_UNORD_Q);
    const __m512i result = _mm512_mask_or_epi32(rounded, nan, _mm512_srli_epi32(bits, 16), quiet);
    _mm256_mask_storeu_epi16(out + i, valid, _mm512_cvtepi32_epi16(result));
  }
}

}  // namespace troupe::avx512
