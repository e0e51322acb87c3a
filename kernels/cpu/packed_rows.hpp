#pragma once
// Q4_1 and Q8_0 weight matrices repacked once, at load time, for AVX-512 VNNI (BF16 ones alike,
// with pairs of columns for quads, for FP32 multiply-adds): rows in groups of 16, each 32-column
// block stored so that one 512-bit register holds 4 consecutive weights of all 16 rows. A token's 4
// activation bytes, broadcast, then meet 16 rows in one vpdpbusd and the 16 row sums land in one
// register with no horizontal reduction; the weights are read from memory once per call and
// unpacked once per block for up to 8 tokens.
//
// Every output equals block_dot (vec_dot.hpp) bit for bit: each block's products summed exactly
// as integers, then one float step per block. That is not llama.cpp's order (8 partial sums per
// block, each converted and scaled): it takes a quarter of the float work and is closer to the
// FP32 function of the same weights (tests/engine/reference_logits_test.cpp). A batch never
// changes a result.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "kernels/common/dtype.hpp"
#include "kernels/common/weight_matrix.hpp"
#include "kernels/cpu/huge_page_arena.hpp"
#include "kernels/cpu/kernel_table.hpp"
#include "kernels/cpu/quant_blocks.hpp"

namespace troupe {

constexpr int kPackedRows = 16;
// BF16 groups hold 32 rows: each activation, broadcast once, meets two registers of 16 rows,
// which halves the loads per multiply-add, the loop's limit.
constexpr int kPackedBf16Rows = 32;

// The rows of one packed group of `type`: 32 for BF16, 16 for Q4_1 and Q8_0.
constexpr int64_t packed_group_rows(DType type) {
  return type == DType::BF16 ? kPackedBf16Rows : kPackedRows;
}

// True when the CPU has the kernel (AVX-512 F/BW/VL and VNNI: kernel_table.hpp) and `type` is
// Q4_1, Q8_0 or BF16, with rows a multiple of packed_group_rows(type) and cols a multiple of 32.
bool can_pack_rows(DType type, int64_t rows, int64_t cols);

// A repacked matrix; shares the ownership of its 64-byte aligned bytes with the arena they are in.
class PackedRows {
 public:
  // The rows of `matrix` (whole, or a slice) as stored in GGUF, packed into `arena` (one of the
  // matrix's own when null). Requires can_pack_rows.
  explicit PackedRows(const WeightMatrix& matrix, const std::shared_ptr<HugePageArena>& arena = {});

  // The bytes PackedRows takes of an arena for `matrix`. Requires can_pack_rows.
  static size_t storage_bytes(const WeightMatrix& matrix);

  DType type() const { return type_; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t rows_per_group() const { return packed_group_rows(type_); }
  int64_t groups() const { return rows_ / rows_per_group(); }
  // The packed bytes, every group's: what a product reads.
  std::span<const std::byte> bytes() const { return bytes_of_groups(0, groups()); }
  // Groups [begin, end)'s bytes: what a product of those rows reads.
  std::span<const std::byte> bytes_of_groups(int64_t begin, int64_t end) const {
    return {bytes_.get() + begin * group_bytes_, static_cast<size_t>((end - begin) * group_bytes_)};
  }
  int64_t bytes_per_group() const { return group_bytes_; }

  // y[t * y_stride + r] = row r . x[t] for the rows_per_group() rows of `group` and t < tokens,
  // where token t's activation blocks start at x + t * cols / 32. `long_run`: the group is part
  // of a thread's long run through the matrix (prefetches: long_run_prefetch_bytes); the
  // result is the same either way.
  void dot_group(int64_t group, const ActivationBlock* x, int64_t tokens, float* y,
                 int64_t y_stride, bool long_run = false) const;
  // The same for BF16 rows, against FP32 activations, token t's at x + t * cols (exact
  // products), or against activations rounded to BF16 (round_to_bf16), where
  // bf16_dot_products() (cpu_features.hpp); each (row, token) sums in a fixed order, so a batch
  // never changes a result.
  void dot_group(int64_t group, const float* x, int64_t tokens, float* y, int64_t y_stride) const;
  void dot_group(int64_t group, const uint16_t* x_bf16, int64_t tokens, float* y,
                 int64_t y_stride) const;

 private:
  DType type_;
  int64_t rows_, cols_;
  int64_t group_bytes_ = 0;
  PackedGroupLayout layout_;           // Q4_1 and Q8_0: where a group keeps its tables, set once
  PackedGroupLayout long_run_layout_;  // the same, prefetching as a long run does
  // The products from kernels() this matrix takes, looked up once: dot_group runs some 16,000
  // times a decode token. Q4_1's or Q8_0's; BF16's against FP32 and against BF16 activations.
  void (*quantized_product_)(const std::byte* group, const PackedGroupLayout& layout,
                             const ActivationBlock* x, int64_t tokens, float* y,
                             int64_t y_stride) = nullptr;
  void (*bf16_product_)(const std::byte* group, int64_t cols, const float* x, int64_t tokens,
                        float* y, int64_t y_stride) = nullptr;
  void (*bf16_rounded_product_)(const std::byte* group, int64_t cols, const uint16_t* x,
                                int64_t tokens, float* y, int64_t y_stride) = nullptr;
  std::shared_ptr<std::byte> bytes_;
};

}  // namespace troupe
