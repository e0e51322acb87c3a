// The GPU kernels' unit decoding (kernels/cuda/weight_units.hpp), compiled here for the host:
// for every weight type, each 32-value unit of a row equals the CPU's dequantize_row on the same
// bytes, on gguf-py's reference blocks and on random rows of several blocks. The device runs
// the same code, so a wrong offset or scale shows here without a GPU.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/dequantize.hpp"
#include "kernels/cpu/half.hpp"
#include "kernels/cuda/type_dispatch.hpp"
#include "kernels/cuda/weight_units.hpp"

using namespace troupe;

namespace {

std::vector<float> decode_row(DType type, const std::vector<uint8_t>& bytes, int64_t values) {
  std::vector<float> out(static_cast<size_t>(values));
  const auto decode = [&]<DType T>() {
    for (int u = 0; u < values / cuda::kUnit; ++u)
      cuda::decode_unit<T>(bytes.data(), u, out.data() + u * cuda::kUnit);
  };
  cuda::with_weight_type(type, decode);
  return out;
}

// Random bytes with every half-precision scale field set to a finite value, so that each
// decoded value is a number.
std::vector<uint8_t> random_row(DType type, int64_t values, std::mt19937& rng) {
  const DTypeTraits t = traits(type);
  std::vector<uint8_t> bytes(static_cast<size_t>(row_bytes(type, values)));
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  const auto put_half = [&](size_t at) {
    const uint16_t h = float_to_half(scale(rng));
    std::memcpy(bytes.data() + at, &h, 2);
  };
  if (type == DType::F32 || type == DType::F16 || type == DType::BF16) {
    for (int64_t i = 0; i < values; ++i) {
      const float v = scale(rng);
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
  for (int64_t block = 0; block < values / t.block_elements; ++block) {
    const auto at = static_cast<size_t>(block * t.block_bytes);
    put_half(type == DType::Q6_K ? at + 208 : at);  // d
    if (type == DType::Q4_1 || type == DType::Q4_K || type == DType::Q5_K) put_half(at + 2);
  }
  return bytes;
}

}  // namespace

TEST_CASE("GPU unit decoding equals the CPU's dequantize_row for every weight type") {
  std::mt19937 rng(7);
  for (DType type : {DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q8_0,
                     DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    INFO(dtype_name(type));
    const int64_t values = 3 * 256;  // several blocks of every type, three K-quant super-blocks
    for (int trial = 0; trial < 20; ++trial) {
      const auto bytes = random_row(type, values, rng);
      std::vector<float> expected(static_cast<size_t>(values));
      dequantize_row(type, reinterpret_cast<const std::byte*>(bytes.data()), expected.data(),
                     values);
      const auto got = decode_row(type, bytes, values);
      for (size_t i = 0; i < got.size(); ++i) {
        INFO("value " << i);
        // The same operations; a compiler may fuse a multiply-add on one side only.
        REQUIRE(std::fabs(got[i] - expected[i]) <= 1e-6f * std::max(1.0f, std::fabs(expected[i])));
      }
    }
  }
}
