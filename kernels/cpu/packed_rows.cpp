#include "kernels/cpu/packed_rows.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "kernels/cpu/cpu_features.hpp"
#include "kernels/cpu/kernel_table.hpp"

namespace troupe {
namespace {

// A group of 16 rows is laid out as
//   scales  [block][16] half        (both types)
//   mins    [block][16] half        (Q4_1 only)
//   values  [block][chunk][16 rows][4 bytes]
// with each table padded to 64 bytes. Q4_1 has 4 chunks per block: byte b of row r in chunk h is
// the row's qs[4h + b], whose low nibble is element 4h + b and high nibble element 16 + 4h + b.
// Q8_0 has 8 chunks: byte b of row r in chunk j is element 4j + b plus 128, unsigned, since
// vpdpbusd multiplies unsigned by signed bytes. BF16 has no tables: values [pair][32 rows][2],
// columns 2k and 2k + 1 of row r side by side in one 32-bit lane.
constexpr int64_t kAlign = 64;  // HugePageArena's alignment too
constexpr int64_t kChunkBytes = kPackedRows * 4;

int64_t padded(int64_t bytes) {
  return (bytes + kAlign - 1) / kAlign * kAlign;
}
int64_t scale_table_bytes(int64_t blocks) {
  return padded(blocks * kPackedRows * 2);
}
int64_t value_bytes_per_block(DType type) {
  return type == DType::Q4_1 ? 4 * kChunkBytes : 8 * kChunkBytes;
}
int64_t group_bytes(DType type, int64_t blocks) {
  if (type == DType::BF16) return kPackedBf16Rows * blocks * kQK * 2;
  const int64_t tables = type == DType::Q4_1 ? 2 : 1;
  return tables * scale_table_bytes(blocks) + blocks * value_bytes_per_block(type);
}

template <typename Block>
void pack_group(DType type, const Block* const rows[kPackedRows], int64_t blocks, std::byte* out) {
  auto* scales = reinterpret_cast<uint16_t*>(out);
  auto* mins = reinterpret_cast<uint16_t*>(out + scale_table_bytes(blocks));
  auto* values =
      reinterpret_cast<uint8_t*>(out + (type == DType::Q4_1 ? 2 : 1) * scale_table_bytes(blocks));
  for (int64_t i = 0; i < blocks; ++i) {
    uint8_t* block_values = values + i * value_bytes_per_block(type);
    for (int r = 0; r < kPackedRows; ++r) {
      const Block& b = rows[r][i];
      scales[i * kPackedRows + r] = b.d;
      if constexpr (std::is_same_v<Block, BlockQ4_1>) {
        mins[i * kPackedRows + r] = b.m;
        for (int h = 0; h < 4; ++h)
          std::memcpy(block_values + h * kChunkBytes + 4 * r, b.qs + 4 * h, 4);
      } else {
        for (int j = 0; j < 8; ++j) {
          for (int k = 0; k < 4; ++k) {
            block_values[j * kChunkBytes + 4 * r + k] =
                static_cast<uint8_t>(static_cast<uint8_t>(b.qs[4 * j + k]) ^ 0x80);
          }
        }
      }
    }
  }
}

void pack_bf16_group(const uint16_t* const rows[kPackedBf16Rows], int64_t cols, std::byte* out) {
  auto* values = reinterpret_cast<uint16_t*>(out);
  for (int64_t pair = 0; pair < cols / 2; ++pair) {
    for (int r = 0; r < kPackedBf16Rows; ++r) {
      values[(pair * kPackedBf16Rows + r) * 2] = rows[r][2 * pair];
      values[(pair * kPackedBf16Rows + r) * 2 + 1] = rows[r][2 * pair + 1];
    }
  }
}

}  // namespace

bool can_pack_rows(DType type, int64_t rows, int64_t cols) {
  const KernelTable& k = kernels();
  const bool has_kernel = (type == DType::Q4_1 && k.packed_q4_1) ||
                          (type == DType::Q8_0 && k.packed_q8_0) ||
                          (type == DType::BF16 && k.packed_bf16);
  return has_kernel && rows > 0 && rows % packed_group_rows(type) == 0 && cols > 0 &&
         cols % kQK == 0;
}

size_t PackedRows::storage_bytes(const WeightMatrix& matrix) {
  const int64_t groups = matrix.rows / packed_group_rows(matrix.type);
  return HugePageArena::footprint(
      static_cast<size_t>(groups * group_bytes(matrix.type, matrix.cols / kQK)));
}

PackedRows::PackedRows(const WeightMatrix& matrix, const std::shared_ptr<HugePageArena>& arena)
    : type_(matrix.type), rows_(matrix.rows), cols_(matrix.cols) {
  const DType type = type_;
  if (!can_pack_rows(type, rows_, cols_)) {
    throw std::logic_error("PackedRows: this matrix has no packed layout in this build");
  }
  const int64_t blocks = cols_ / kQK;
  group_bytes_ = group_bytes(type, blocks);
  const int64_t tables = type == DType::Q4_1 ? 2 : 1;
  layout_ = {blocks, scale_table_bytes(blocks), tables * scale_table_bytes(blocks),
             stream_prefetch_bytes()};
  long_run_layout_ = layout_;
  long_run_layout_.prefetch_bytes = long_run_prefetch_bytes();
  if (type == DType::BF16) {
    bf16_product_ = kernels().packed_bf16;
    bf16_rounded_product_ = kernels().packed_bf16_rounded;  // null where the level has none
  } else {
    quantized_product_ = type == DType::Q4_1 ? kernels().packed_q4_1 : kernels().packed_q8_0;
  }
  // Zero-filled: the tables' padding stays zero.
  bytes_ = take_huge_page_bytes(arena, static_cast<size_t>(group_bytes_ * groups()));
  for (int64_t g = 0; g < groups(); ++g) {
    std::byte* out = bytes_.get() + g * group_bytes_;
    const int64_t first = g * rows_per_group();
    if (type == DType::BF16) {
      const uint16_t* group_rows[kPackedBf16Rows];
      for (int r = 0; r < kPackedBf16Rows; ++r) {
        group_rows[r] = reinterpret_cast<const uint16_t*>(matrix.row(first + r));
      }
      pack_bf16_group(group_rows, cols_, out);
    } else if (type == DType::Q4_1) {
      const BlockQ4_1* group_rows[kPackedRows];
      for (int r = 0; r < kPackedRows; ++r) {
        group_rows[r] = reinterpret_cast<const BlockQ4_1*>(matrix.row(first + r));
      }
      pack_group(type, group_rows, blocks, out);
    } else {
      const BlockQ8_0* group_rows[kPackedRows];
      for (int r = 0; r < kPackedRows; ++r) {
        group_rows[r] = reinterpret_cast<const BlockQ8_0*>(matrix.row(first + r));
      }
      pack_group(type, group_rows, blocks, out);
    }
  }
}

void PackedRows::dot_group(int64_t group, const float* x, int64_t tokens, float* y,
                           int64_t y_stride) const {
  if (!bf16_product_) throw std::logic_error("PackedRows: FP32 activations for BF16 rows");
  bf16_product_(bytes_.get() + group * group_bytes_, cols_, x, tokens, y + group * kPackedBf16Rows,
                y_stride);
}

void PackedRows::dot_group(int64_t group, const uint16_t* x_bf16, int64_t tokens, float* y,
                           int64_t y_stride) const {
  if (!bf16_rounded_product_) {
    throw std::logic_error("PackedRows: BF16 activations need BF16 rows and a BF16 dot product");
  }
  bf16_rounded_product_(bytes_.get() + group * group_bytes_, cols_, x_bf16, tokens,
                        y + group * kPackedBf16Rows, y_stride);
}

void PackedRows::dot_group(int64_t group, const ActivationBlock* x, int64_t tokens, float* y,
                           int64_t y_stride, bool long_run) const {
  if (!quantized_product_) throw std::logic_error("PackedRows: 8-bit activations for BF16 rows");
  quantized_product_(bytes_.get() + group * group_bytes_, long_run ? long_run_layout_ : layout_, x,
                     tokens, y + group * kPackedRows, y_stride);
}

}  // namespace troupe
