#pragma once
// The functions behind kernel_table.hpp, one namespace per instruction-set level. scalar:: is
// plain C++ (vec_dot_scalar.cpp, attention_scalar.cpp, elementwise_scalar.cpp); avx2::,
// avx512:: and amx:: live in *_avx2.cpp, *_avx512.cpp and *_amx.cpp, compiled for their level and
// called only when the CPU has it. Those files include nothing of the standard library's templates
// or of the project's inline helpers: an out-of-line copy of such a function compiled for AVX-512
// could be the one the linker keeps for every caller.
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/kernel_table.hpp"

namespace troupe {

namespace scalar {
void quantize_activations(const float* x, ActivationBlock* out, int64_t elements);
float dot_q4_0(const BlockQ4_0* w, const ActivationBlock* x, int64_t blocks);
float dot_q4_1(const BlockQ4_1* w, const ActivationBlock* x, int64_t blocks);
float dot_q8_0(const BlockQ8_0* w, const ActivationBlock* x, int64_t blocks);
float dot_f32(const float* a, const float* b, int64_t n);
void attention_scores(const float* q, int queries, const uint16_t* const* key_blocks,
                      int block_size, int first, int count, int head_dim, float scale, float* out,
                      LineQueue& ahead);
void attention_values(const float* weight, int queries, const uint16_t* const* value_blocks,
                      int block_size, int row_stride, int first, int count, int head_dim,
                      float* out, LineQueue& ahead);
bool attention_asks_ahead(int block_size, int head_dim);
void softmax_tile(float* scores, int rows, const int* counts, float* max, double* tile_sum);
void silu_mul(float* gate, const float* up, int64_t n);
double exp_shifted_sum(float* x, int64_t n, float max);
int64_t argmax(const float* x, int64_t n);
void round_to_bf16(const float* x, uint16_t* out, int64_t n);
}  // namespace scalar

namespace avx2 {
float dot_q4_0(const BlockQ4_0* w, const ActivationBlock* x, int64_t blocks);
float dot_q4_1(const BlockQ4_1* w, const ActivationBlock* x, int64_t blocks);
float dot_q8_0(const BlockQ8_0* w, const ActivationBlock* x, int64_t blocks);
float dot_f32(const float* a, const float* b, int64_t n);
void dot_q4_1_2x4(const BlockQ4_1* const rows[2], const ActivationBlock* const x[4], int64_t blocks,
                  float out[2][4]);
}  // namespace avx2

namespace avx512 {
void quantize_activations(const float* x, ActivationBlock* out, int64_t elements);
void packed_q4_1(const std::byte* group, const PackedGroupLayout& layout, const ActivationBlock* x,
                 int64_t tokens, float* y, int64_t y_stride);
void packed_q8_0(const std::byte* group, const PackedGroupLayout& layout, const ActivationBlock* x,
                 int64_t tokens, float* y, int64_t y_stride);
void packed_bf16(const std::byte* group, int64_t cols, const float* x, int64_t tokens, float* y,
                 int64_t y_stride);
void packed_bf16_rounded(const std::byte* group, int64_t cols, const uint16_t* x, int64_t tokens,
                         float* y, int64_t y_stride);  // needs AVX-512 BF16 besides
void attention_scores(const float* q, int queries, const uint16_t* const* key_blocks,
                      int block_size, int first, int count, int head_dim, float scale, float* out,
                      LineQueue& ahead);
void attention_values(const float* weight, int queries, const uint16_t* const* value_blocks,
                      int block_size, int row_stride, int first, int count, int head_dim,
                      float* out, LineQueue& ahead);
bool attention_asks_ahead(int block_size, int head_dim);
void softmax_tile(float* scores, int rows, const int* counts, float* max, double* tile_sum);
void silu_mul(float* gate, const float* up, int64_t n);
double exp_shifted_sum(float* x, int64_t n, float max);
int64_t argmax(const float* x, int64_t n);
void round_to_bf16(const float* x, uint16_t* out, int64_t n);
}  // namespace avx512

// AVX-512 plus AMX tiles: the packed Q4_1 and Q8_0 products of 16 tokens or more on AMX-INT8
// (packed_rows_amx.cpp), the packed BF16 product on AMX-BF16 (packed_bf16_amx.cpp).
namespace amx {
void packed_bf16_rounded(const std::byte* group, int64_t cols, const uint16_t* x, int64_t tokens,
                         float* y, int64_t y_stride);
void packed_q4_1(const std::byte* group, const PackedGroupLayout& layout, const ActivationBlock* x,
                 int64_t tokens, float* y, int64_t y_stride);
void packed_q8_0(const std::byte* group, const PackedGroupLayout& layout, const ActivationBlock* x,
                 int64_t tokens, float* y, int64_t y_stride);
}  // namespace amx

}  // namespace troupe
