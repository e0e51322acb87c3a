#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "kernels/cpu/fast_exp.hpp"
#include "kernels/cpu/kernel_table.hpp"

using namespace troupe;

namespace {

// The definition: the polynomial scaled by std::ldexp (what fast_exp computes without the call).
float exp_by_ldexp(float x) {
  const float shifter = 0x1.8p23f;
  const float n = std::fma(x, 0x1.715476p+0f, shifter) - shifter;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  const float b2 = b * b;
  const float p = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), b2,
                                    std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           b2, std::fma(0x1.ffffecp-1f, b, 1.0f));
  if (std::fabs(n) > 192) return n <= 0 ? 0.0f : INFINITY;
  return std::ldexp(p, static_cast<int>(n));
}

}  // namespace

TEST_CASE("fast_exp scales by powers of two exactly as ldexp does, subnormals and overflow too") {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> wide(-140.0f, 140.0f);
  for (int i = 0; i < 200000; ++i) {
    const float x = i < 100000 ? -104.0f + 193.0f * float(i) / 100000.0f : wide(rng);
    INFO("x = " << x);
    REQUIRE(fast_exp(x) == exp_by_ldexp(x));
  }
  CHECK(fast_exp(-INFINITY) == 0.0f);
  CHECK(fast_exp(INFINITY) == INFINITY);
  CHECK(std::isnan(fast_exp(NAN)));
  CHECK(fast_exp(0.0f) == 1.0f);
  CHECK(fast_exp(1.0f) == Approx(std::exp(1.0f)).epsilon(1e-6));
}

TEST_CASE("every level's vector fast_exp equals the scalar one in every lane") {
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> wide(-150.0f, 150.0f);
  for (CpuIsa isa : {CpuIsa::avx2, CpuIsa::avx512}) {
    if (!isa_supported(isa)) continue;
    float x[16], y[16];
    for (int i = 0; i < 20000; ++i) {
      for (float& v : x) v = wide(rng);
      if (i == 0) {
        x[0] = -INFINITY, x[1] = INFINITY, x[2] = NAN, x[3] = 0.0f, x[4] = -103.9f, x[5] = 88.7f;
      }
      std::copy(x, x + 16, y);
      kernel_table(isa).exp_shifted_sum(y, 16, 0.0f);  // x - 0 is x
      for (int l = 0; l < 16; ++l) {
        INFO(isa_name(isa) << ", x = " << x[l]);
        if (std::isnan(x[l])) {
          REQUIRE(std::isnan(y[l]));
        } else {
          REQUIRE(y[l] == fast_exp(x[l]));
        }
      }
    }
  }
}
