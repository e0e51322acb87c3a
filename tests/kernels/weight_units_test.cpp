// The GPU kernels' unit decoding (kernels/cuda/weight_units.hpp), compiled here for the host:
// for every weight type, each 32-value unit of a row equals the CPU's dequantize_row on the same
// bytes, on gguf-py's reference blocks and on random rows of several blocks. The device runs
// the same code, so a wrong offset or scale shows here without a GPU.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/dequantize.hpp"
#include "kernels/cuda/type_dispatch.hpp"
#include "kernels/cuda/weight_units.hpp"
#include "tests/support/random_weights.hpp"

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

}  // namespace

TEST_CASE("GPU unit decoding equals the CPU's dequantize_row for every weight type") {
  std::mt19937_64 rng(7);
  for (DType type : {DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q8_0,
                     DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    INFO(dtype_name(type));
    const int64_t values = 3 * 256;  // several blocks of every type, three K-quant super-blocks
    for (int trial = 0; trial < 20; ++trial) {
      const auto bytes = test::random_weights(type, 1, values, 0.05f, rng);
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
