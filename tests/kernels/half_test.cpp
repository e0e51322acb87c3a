#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "kernels/cpu/half.hpp"

using namespace troupe;

TEST_CASE("half conversions round-trip every finite half value") {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = half_to_float(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    REQUIRE(float_to_half(f) == h);
  }
}

TEST_CASE("half conversion rounds to nearest and saturates to infinity") {
  CHECK(half_to_float(float_to_half(1.0f + 1.0f / 4096)) == 1.0f);  // below half an ulp
  CHECK(half_to_float(float_to_half(65520.0f)) == std::numeric_limits<float>::infinity());
  CHECK(half_to_float(float_to_half(1e-8f)) == 0.0f);
  CHECK(bf16_to_float(0x3f80) == 1.0f);
}
