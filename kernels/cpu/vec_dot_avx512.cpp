// The AVX-512 activation quantizer, compiled for AVX-512 and called only on CPUs that have it.
// Equal to scalar::quantize_activations bit for bit: the maximum is exact, and the conversion
// rounds half to even as nearbyint does.
#include "kernels/cpu/avx512.hpp"  // first: it turns GCC's false uninitialized warnings off
#include "kernels/cpu/kernel_variants.hpp"

namespace troupe::avx512 {

void quantize_activations(const float* x, ActivationBlock* out, int64_t elements) {
  for (int64_t b = 0; b < elements / kQK; ++b, x += kQK) {
    ActivationBlock& block = out[b];
    const __m512 lo = _mm512_loadu_ps(x), hi = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(lo), _mm512_abs_ps(hi)));
    const float inv = amax != 0 ? 127.0f / amax : 0.0f;
    const __m512i qlo = _mm512_cvtps_epi32(_mm512_mul_ps(lo, _mm512_set1_ps(inv)));
    const __m512i qhi = _mm512_cvtps_epi32(_mm512_mul_ps(hi, _mm512_set1_ps(inv)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(block.qs), _mm512_cvtepi32_epi8(qlo));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(block.qs + 16), _mm512_cvtepi32_epi8(qhi));
    const int isum = _mm512_reduce_add_epi32(_mm512_add_epi32(qlo, qhi));
    block.d = amax / 127.0f;
    block.sum = block.d * static_cast<float>(isum);
    block.offset = -128 * isum;
  }
}

}  // namespace troupe::avx512
