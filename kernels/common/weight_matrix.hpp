#pragma once
// A view of a weight matrix as stored in the model file: `rows` rows of `cols` values of `type`,
// each row `row_stride` bytes after the one before. The stride is explicit so that a slice of the
// matrix is a view too: a row slice (a tensor-parallel rank's output features) moves `data`; a
// column slice (its input features) also narrows `cols` while the stride stays the whole row's.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "kernels/common/dtype.hpp"

namespace troupe {

class PackedRows;  // kernels/cpu/packed_rows.hpp: the same rows in the CPU's fastest layout

struct WeightMatrix {
  DType type = DType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t row_stride = 0;  // bytes
  const std::byte* data = nullptr;
  const PackedRows* packed = nullptr;  // CPU only, when the loader made one

  const std::byte* row(int64_t r) const { return data + r * row_stride; }
  // Bytes of the values this view covers (not the gaps a column slice leaves).
  int64_t bytes() const { return rows * row_bytes(type, cols); }
};

// The whole matrix whose rows lie one after another at `data`.
inline WeightMatrix dense_matrix(DType type, int64_t rows, int64_t cols, const std::byte* data) {
  return WeightMatrix{type, rows, cols, row_bytes(type, cols), data, nullptr};
}

// Rows [first, first + count). The slice has no packed layout of its own.
inline WeightMatrix row_slice(const WeightMatrix& m, int64_t first, int64_t count) {
  if (first < 0 || count < 0 || first + count > m.rows) {
    throw std::out_of_range("row_slice: rows outside the matrix");
  }
  return WeightMatrix{m.type, count, m.cols, m.row_stride, m.row(first), nullptr};
}

// Columns [first, first + count) of every row; both must fall on the type's block boundaries.
inline WeightMatrix column_slice(const WeightMatrix& m, int64_t first, int64_t count) {
  const int64_t block = traits(m.type).block_elements;
  if (first < 0 || count < 0 || first + count > m.cols || first % block != 0 ||
      count % block != 0) {
    throw std::out_of_range("column_slice: columns outside the matrix or off its blocks");
  }
  return WeightMatrix{m.type, m.rows, count, m.row_stride, m.data + row_bytes(m.type, first),
                      nullptr};
}

}  // namespace troupe
