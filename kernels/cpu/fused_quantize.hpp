#pragma once
// The two activations that feed only integer matrix products, made and quantized to 8-bit blocks
// a chunk of 1024 values at a time, so the floats are read back from L1, not from memory.
// Each equals its two unfused steps (rms_norm or silu_mul, then quantize_activations) bit for bit.
#include <cstdint>

#include "kernels/cpu/quant_blocks.hpp"

namespace troupe {

// quantize(rms_norm(x) * weight), n a multiple of 32, into n / 32 blocks.
void rms_norm_quantize(const float* x, const float* weight, float eps, int64_t n,
                       ActivationBlock* out);

// quantize(silu(gate) * up), n a multiple of 32, into n / 32 blocks; gate becomes silu(gate) * up
// on the way, a chunk at a time, each chunk quantized while it is in L1.
void silu_mul_quantize(float* gate, const float* up, int64_t n, ActivationBlock* out);

}  // namespace troupe
