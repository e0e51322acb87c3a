#include "kernels/common/dtype.hpp"

#include <stdexcept>

namespace troupe {

std::optional<DTypeTraits> dtype_traits(uint32_t id) {
  switch (static_cast<DType>(id)) {
    case DType::F32:
      return DTypeTraits{"F32", 1, 4};
    case DType::F16:
      return DTypeTraits{"F16", 1, 2};
    case DType::BF16:
      return DTypeTraits{"BF16", 1, 2};
    case DType::Q4_0:
      return DTypeTraits{"Q4_0", 32, 18};
    case DType::Q4_1:
      return DTypeTraits{"Q4_1", 32, 20};
    case DType::Q8_0:
      return DTypeTraits{"Q8_0", 32, 34};
    case DType::Q4_K:
      return DTypeTraits{"Q4_K", 256, 144};
    case DType::Q5_K:
      return DTypeTraits{"Q5_K", 256, 176};
    case DType::Q6_K:
      return DTypeTraits{"Q6_K", 256, 210};
  }
  return std::nullopt;
}

DTypeTraits traits(DType type) {
  auto t = dtype_traits(static_cast<uint32_t>(type));
  if (!t) throw std::logic_error("unsupported dtype");
  return *t;
}

std::string_view dtype_name(DType type) {
  return traits(type).name;
}

int64_t row_bytes(DType type, int64_t elements) {
  auto t = traits(type);
  return elements / t.block_elements * t.block_bytes;
}

}  // namespace troupe
