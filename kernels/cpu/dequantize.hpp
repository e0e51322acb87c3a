#pragma once
// Reference conversion of one row of any supported type to float. Used on the fallback matmul
// path (types without an integer dot kernel), for embedding look-ups and by tests.
#include <cstddef>
#include <cstdint>

#include "kernels/common/dtype.hpp"

namespace troupe {

// Converts `elements` values (a multiple of the type's block size) starting at `src`.
void dequantize_row(DType type, const std::byte* src, float* dst, int64_t elements);

}  // namespace troupe
