#pragma once
// The two activations that feed only integer matrix products, made and quantized to 8-bit blocks
// in one pass of 32 values at a time: the float vector is never written out and read back.
// Each equals its two unfused steps (rms_norm or silu_mul, then quantize_activations) bit for bit.
#include <cstdint>

#include "kernels/cpu/quant_blocks.hpp"

namespace troupe {

// quantize(rms_norm(x) * weight), n a multiple of 32, into n / 32 blocks.
void rms_norm_quantize(const float* x, const float* weight, float eps, int64_t n,
                       ActivationBlock* out);

// quantize(silu(gate) * up), n a multiple of 32, into n / 32 blocks; gate is left as it was.
void silu_mul_quantize(const float* gate, const float* up, int64_t n, ActivationBlock* out);

}  // namespace troupe
