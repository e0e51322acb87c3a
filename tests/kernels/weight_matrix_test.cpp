#include <catch2/catch.hpp>
#include <cstring>

#include "kernels/cpu/matmul.hpp"
#include "kernels/cpu/packed_rows.hpp"
#include "tests/support/gguf_writer.hpp"

using namespace troupe;

namespace {

// The slice's rows copied next to each other: what a file holding only the slice would store.
std::vector<std::byte> dense_copy(const WeightMatrix& slice) {
  const int64_t row = row_bytes(slice.type, slice.cols);
  std::vector<std::byte> bytes(static_cast<size_t>(slice.rows * row));
  for (int64_t r = 0; r < slice.rows; ++r) std::memcpy(&bytes[size_t(r * row)], slice.row(r), row);
  return bytes;
}

std::vector<float> product(const WeightMatrix& w, const std::vector<float>& x, int tokens) {
  ThreadPool pool(2);
  MatmulScratch scratch;
  std::vector<float> y(static_cast<size_t>(tokens * w.rows));
  matmul(pool, w, x.data(), tokens, y.data(), scratch);
  return y;
}

}  // namespace

TEST_CASE("row and column slices of a matrix multiply as the same rows stored densely") {
  std::mt19937 rng(5);
  for (DType type : {DType::Q4_1, DType::Q8_0, DType::F32}) {
    const int64_t rows = 48, cols = 256;
    const auto values = test::random_floats(rng, size_t(rows * cols), 0.6f);
    std::vector<std::byte> bytes;
    if (type == DType::Q4_1) bytes = test::quantize_q4_1(values);
    if (type == DType::Q8_0) bytes = test::quantize_q8_0(values);
    if (type == DType::F32) {
      bytes.resize(values.size() * sizeof(float));
      std::memcpy(bytes.data(), values.data(), bytes.size());
    }
    const WeightMatrix whole = dense_matrix(type, rows, cols, bytes.data());
    for (const WeightMatrix& slice :
         {row_slice(whole, 16, 16), column_slice(whole, 64, 128), column_slice(whole, 0, 32),
          row_slice(column_slice(whole, 128, 128), 32, 16)}) {
      INFO(dtype_name(type) << " slice of " << slice.rows << "x" << slice.cols);
      const auto copy = dense_copy(slice);
      const WeightMatrix dense = dense_matrix(type, slice.rows, slice.cols, copy.data());
      CHECK(slice.bytes() == dense.bytes());
      for (int tokens : {1, 5}) {
        const auto x = test::random_floats(rng, size_t(tokens * slice.cols), 2.0f);
        CHECK(product(slice, x, tokens) == product(dense, x, tokens));
      }
      if (can_pack_rows(type, slice.rows, slice.cols)) {
        WeightMatrix packed_slice = slice, packed_dense = dense;
        const PackedRows packed(slice), packed_copy(dense);
        packed_slice.packed = &packed;
        packed_dense.packed = &packed_copy;
        const auto x = test::random_floats(rng, size_t(3 * slice.cols), 2.0f);
        CHECK(product(packed_slice, x, 3) == product(packed_dense, x, 3));
      }
    }
  }
}

TEST_CASE("slices outside a matrix or across its quantization blocks are refused") {
  const std::vector<std::byte> bytes(size_t(row_bytes(DType::Q4_1, 64) * 4));
  const WeightMatrix m = dense_matrix(DType::Q4_1, 4, 64, bytes.data());
  CHECK_THROWS(row_slice(m, 2, 3));
  CHECK_THROWS(column_slice(m, 16, 32));  // not on a 32-value block
  CHECK_THROWS(column_slice(m, 32, 64));
  CHECK(column_slice(m, 32, 32).row_stride == m.row_stride);
}
