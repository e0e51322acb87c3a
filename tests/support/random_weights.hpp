#pragma once
// Random weight matrices of any type, for kernel tests and speed measurements: quantized types
// get random bytes with every block's half-precision scales set to finite values in
// [-scale, scale] (so every decoded value is a number); F32, F16 and BF16 hold values in
// [-scale, scale]. `next` gives 64 random bits a call (fast enough for an 8B model's 4.5 GB).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/common/dtype.hpp"
#include "kernels/cpu/half.hpp"

namespace troupe::test {

template <typename Next>
std::vector<uint8_t> random_weights(DType type, int64_t rows, int64_t cols, float scale,
                                    Next&& next) {
  std::vector<uint8_t> bytes(static_cast<size_t>(rows * row_bytes(type, cols)));
  // A value in [-scale, scale] from 24 random bits.
  const auto value = [&] {
    return scale * (static_cast<float>(next() >> 40) / static_cast<float>(1 << 23) - 1.0f);
  };
  const DTypeTraits t = traits(type);
  if (t.block_elements == 1) {  // F32, F16, BF16: the values themselves
    for (int64_t i = 0; i < rows * cols; ++i) {
      const float v = value();
      uint32_t bits;
      std::memcpy(&bits, &v, 4);
      if (type == DType::F32) {
        std::memcpy(bytes.data() + 4 * i, &v, 4);
      } else {
        const auto h = type == DType::F16 ? float_to_half(v) : static_cast<uint16_t>(bits >> 16);
        std::memcpy(bytes.data() + 2 * i, &h, 2);
      }
    }
    return bytes;
  }
  for (size_t i = 0; i < bytes.size(); i += 8) {
    const uint64_t r = next();
    std::memcpy(bytes.data() + i, &r, std::min<size_t>(8, bytes.size() - i));
  }
  const auto put_half = [&](size_t at) {
    const uint16_t h = float_to_half(value());
    std::memcpy(bytes.data() + at, &h, 2);
  };
  for (size_t at = 0; at < bytes.size(); at += static_cast<size_t>(t.block_bytes)) {
    put_half(type == DType::Q6_K ? at + 208 : at);  // d
    if (type == DType::Q4_1 || type == DType::Q4_K || type == DType::Q5_K) put_half(at + 2);
  }
  return bytes;
}

}  // namespace troupe::test
