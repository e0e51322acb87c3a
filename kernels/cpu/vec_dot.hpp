#pragma once
// Dot products of one weight row with one activation vector. Q4_0, Q4_1 and Q8_0 rows use the
// activation quantized to 8-bit blocks and integer arithmetic (AVX2 when built for it); every
// type also has a float path over a dequantized row. Each call runs the variant of the CPU's
// instruction set (kernel_table.hpp).
#include <cstddef>
#include <cstdint>

#include "kernels/common/dtype.hpp"
#include "kernels/cpu/quant_blocks.hpp"

namespace troupe {

// True when `type` has an integer dot product against ActivationBlocks.
bool has_quantized_dot(DType type);

// Quantizes `elements` floats (a multiple of 32) into elements/32 activation blocks.
void quantize_activations(const float* x, ActivationBlock* out, int64_t elements);

// Dot of a Q4_0/Q4_1/Q8_0 row of `elements` values with quantized activations.
float dot_quantized(DType type, const std::byte* row, const ActivationBlock* x, int64_t elements);

float dot_f32(const float* a, const float* b, int64_t n);

// The arithmetic of the packed kernels (packed_rows.hpp), which they equal bit for bit: each
// block's 32 products summed as integers, exactly, then one float step per block, in block
// order: acc = fma(d_w * d_x, sum, acc), and for Q4_1 then acc = fma(m_w, sum_x, acc). Plain
// C++, one row against one token; Q4_1 and Q8_0 only.
float block_dot(DType type, const std::byte* row, const ActivationBlock* x, int64_t elements);

// Two Q4_1 rows against four quantized activation vectors at once: out[r][t] equals
// dot_quantized(Q4_1, rows[r], x[t], elements) bit for bit, with each weight block unpacked once
// for the four tokens and each activation block loaded once for the two rows. False when the
// CPU has no AVX2 (callers fall back to dot_quantized).
bool dot_q4_1_2x4(const std::byte* const rows[2], const ActivationBlock* const x[4],
                  int64_t elements, float out[2][4]);

}  // namespace troupe
