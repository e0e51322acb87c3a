#pragma once
// Q4_1 and Q8_0 weight rows against many quantized activation vectors at once, with AVX-512 VNNI: a
// tile of 4 rows x up to 8 tokens per call, each weight block unpacked once for all tokens and each
// activation block loaded once for all rows. This is what makes a batch cheaper per token than
// one sequence: the 8-bit products of a 512-bit register serve two rows, and the scale work is
// shared. Every output equals dot_quantized(type, row, x) bit for bit (same integer lanes, same
// float operations in the same order), so batching never changes a token.
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/dtype.hpp"
#include "kernels/cpu/quant_blocks.hpp"

namespace troupe {

constexpr int kTileRows = 4;
constexpr int kTileTokens = 8;

// True when rows of `type` have tiles in this build: Q4_1 and Q8_0, with AVX-512 (F, BW, DQ,
// VL) and VNNI.
bool has_dot_tile(DType type);

// The activation blocks' `sum` fields of up to kTileTokens tokens, transposed for the tiles:
// out[block * kTileTokens + t] = x[t][block].sum. `out` holds blocks * kTileTokens floats.
void gather_tile_sums(const ActivationBlock* const x[], int tokens, int64_t blocks, float* out);

// y[t * y_stride + r] = dot of row r (of 4, all of `type`) with x[t], for t < tokens <=
// kTileTokens. `tile_sums` comes from gather_tile_sums for the same x (Q4_1 uses it). Does
// nothing unless has_dot_tile(type).
void dot_tile(DType type, const std::byte* const rows[kTileRows], const ActivationBlock* const x[],
              int tokens, const float* tile_sums, int64_t elements, float* y, int64_t y_stride);

}  // namespace troupe
