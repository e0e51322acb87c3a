#include <catch2/catch.hpp>

#include "kernels/cpu/dot_tiles.hpp"
#include "kernels/cpu/vec_dot.hpp"
#include "tests/support/gguf_writer.hpp"

using namespace troupe;

TEST_CASE("Q4_1 and Q8_0 tiles equal one dot product per row and token, bit for bit") {
  if (!has_dot_tile(DType::Q4_1)) {
    WARN("this build has no AVX-512 VNNI tiles: nothing to compare");
    return;
  }
  std::mt19937 rng(17);
  const int cols = 576, blocks = cols / kQK;
  for (int trial = 0; trial < 20; ++trial) {
    const DType type = trial % 2 ? DType::Q8_0 : DType::Q4_1;
    std::vector<std::vector<std::byte>> rows;
    for (int r = 0; r < kTileRows; ++r) {
      const auto values = test::random_floats(rng, cols, 0.2f * (trial + 1));
      rows.push_back(type == DType::Q4_1 ? test::quantize_q4_1(values)
                                         : test::quantize_q8_0(values));
    }
    std::vector<std::vector<ActivationBlock>> x(kTileTokens, std::vector<ActivationBlock>(blocks));
    for (auto& token : x) {
      quantize_activations(test::random_floats(rng, cols, 3.0f).data(), token.data(), cols);
    }
    const std::byte* row_ptrs[kTileRows];
    for (int r = 0; r < kTileRows; ++r) row_ptrs[r] = rows[size_t(r)].data();
    const ActivationBlock* x_ptrs[kTileTokens];
    for (int t = 0; t < kTileTokens; ++t) x_ptrs[t] = x[size_t(t)].data();

    for (int tokens = 1; tokens <= kTileTokens; ++tokens) {
      std::vector<float> sums(size_t(blocks * kTileTokens));
      gather_tile_sums(x_ptrs, tokens, blocks, sums.data());
      std::vector<float> y(size_t(tokens * kTileRows));
      dot_tile(type, row_ptrs, x_ptrs, tokens, sums.data(), cols, y.data(), kTileRows);
      for (int t = 0; t < tokens; ++t) {
        for (int r = 0; r < kTileRows; ++r) {
          INFO("trial " << trial << ", tokens " << tokens << ", row " << r << ", token " << t);
          REQUIRE(y[size_t(t * kTileRows + r)] ==
                  dot_quantized(type, row_ptrs[r], x_ptrs[t], cols));
        }
      }
    }
  }
}
