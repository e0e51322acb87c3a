#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/fused_quantize.hpp"
#include "kernels/cpu/vec_dot.hpp"
#include "tests/support/gguf_writer.hpp"

using namespace troupe;

namespace {

void require_same(const std::vector<ActivationBlock>& a, const std::vector<ActivationBlock>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("block " << i);
    REQUIRE(a[i].d == b[i].d);
    REQUIRE(a[i].sum == b[i].sum);
    REQUIRE(std::memcmp(a[i].qs, b[i].qs, sizeof a[i].qs) == 0);
    REQUIRE(a[i].offset == b[i].offset);
  }
}

}  // namespace

TEST_CASE("fused RMSNorm and SwiGLU quantization equal their two steps bit for bit") {
  std::mt19937 rng(11);
  for (int n : {32, 576, 1536}) {
    INFO("n = " << n);
    const auto x = test::random_floats(rng, size_t(n), 5.0f);
    const auto weight = test::random_floats(rng, size_t(n), 2.0f);
    const auto blocks = static_cast<size_t>(n / 32);

    std::vector<float> normed(static_cast<size_t>(n));
    rms_norm(x.data(), weight.data(), 1e-5f, n, normed.data());
    std::vector<ActivationBlock> want(blocks), got(blocks);
    quantize_activations(normed.data(), want.data(), n);
    rms_norm_quantize(x.data(), weight.data(), 1e-5f, n, got.data());
    require_same(got, want);

    auto gate = x;
    silu_mul(gate.data(), weight.data(), n);
    quantize_activations(gate.data(), want.data(), n);
    auto fused = x;
    silu_mul_quantize(fused.data(), weight.data(), n, got.data());
    require_same(got, want);
    REQUIRE(fused == gate);
  }
}
