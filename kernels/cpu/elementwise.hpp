#pragma once
// Per-token vector operations of a transformer layer.
#include <cstdint>

namespace troupe {

// out = x / sqrt(mean(x^2) + eps) * weight, for one vector of n values.
void rms_norm(const float* x, const float* weight, float eps, int64_t n, float* out);
// The factor rms_norm multiplies by: 1 / sqrt(mean(x^2) + eps).
float rms_scale(const float* x, float eps, int64_t n);

// gate = silu(gate) * up, in place (the SwiGLU activation).
void silu_mul(float* gate, const float* up, int64_t n);

// y += x
void add_in_place(float* y, const float* x, int64_t n);

// Sum of 16 partial sums in the order of AVX-512's horizontal add (_mm512_reduce_add_ps).
float reduce_16_lanes(const float lanes[16]);

}  // namespace troupe
