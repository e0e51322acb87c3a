#pragma once
// Element types of weight and activation tensors, numbered as in GGUF/ggml so a file's type id
// maps directly. Quantized types are stored in blocks: `block_elements` values in `block_bytes`.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace troupe {

enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q8_0 = 8,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  BF16 = 30,
};

struct DTypeTraits {
  std::string_view name;
  int64_t block_elements;
  int64_t block_bytes;
};

// Traits of a supported type id, nullopt for ids troupe cannot compute with.
std::optional<DTypeTraits> dtype_traits(uint32_t id);
DTypeTraits traits(DType type);
std::string_view dtype_name(DType type);
// Bytes of a row of `elements` values; `elements` must be a multiple of the block size.
int64_t row_bytes(DType type, int64_t elements);

}  // namespace troupe
