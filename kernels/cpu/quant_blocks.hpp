#pragma once
// Byte layouts of ggml's quantized blocks, as stored in GGUF files. Half-precision fields are
// kept as raw uint16_t; sizes are asserted against the GGUF block sizes.
#include <cstdint>

namespace troupe {

constexpr int kQK = 32;     // elements per block of the simple quantizations
constexpr int kQK_K = 256;  // elements per super-block of the K-quantizations

struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];  // element j in the low nibble of qs[j], element j+16 in the high nibble
};
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK / 2];
};
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];  // 8 pairs of 6-bit (scale, min)
  uint8_t qs[kQK_K / 2];
};
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];  // fifth bit of each element
  uint8_t qs[kQK_K / 2];
};
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];      // low 4 bits
  uint8_t qh[kQK_K / 4];      // high 2 bits
  int8_t scales[kQK_K / 16];  // 8-bit scale per 16 elements
  uint16_t d;
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);

// Activations quantized to 8 bits per block of 32 for integer dot products with Q4_0, Q4_1 and
// Q8_0 weights: x[j] ~ d * qs[j]. `sum` is d times the sum of qs, the block's sum as the quantized
// values represent it: Q4_1's minimum term (m * sum) then carries the same quantization error as
// its main term, and the two cancel where the row's values are far from zero. Unlike llama.cpp's
// Q8_1 blocks, d and sum stay floats. `offset` is -128 times the sum of qs: what the packed Q8_0
// kernel, whose weights carry +128, takes back out of the block's integer sum.
struct ActivationBlock {
  float d;
  float sum;
  int32_t offset;
  int8_t qs[kQK];
};

}  // namespace troupe
