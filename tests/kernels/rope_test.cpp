#include <catch2/catch.hpp>
#include <cmath>

#include "kernels/cpu/rope.hpp"

using namespace troupe;

namespace {

std::vector<float> rotate(const RopeConfig& config, int32_t position, std::vector<float> x) {
  RopeTable table;
  table.compute(config, &position, 1);
  table.apply(config, 0, x.data(), 1, static_cast<int>(x.size()));
  return x;
}

}  // namespace

TEST_CASE("rope: position 0 is the identity and rotations keep each pair's length") {
  RopeConfig c;
  c.rotary_dims = 8;
  const std::vector<float> x{1, 2, 3, 4, 5, 6, 7, 8};
  CHECK(rotate(c, 0, x) == x);
  for (RopeStyle style : {RopeStyle::Normal, RopeStyle::NeoX}) {
    c.style = style;
    const auto y = rotate(c, 17, x);
    for (int i = 0; i < 4; ++i) {
      const int a = style == RopeStyle::Normal ? 2 * i : i;
      const int b = style == RopeStyle::Normal ? 2 * i + 1 : i + 4;
      CHECK(std::hypot(y[size_t(a)], y[size_t(b)]) ==
            Approx(std::hypot(x[size_t(a)], x[size_t(b)])));
    }
  }
}

TEST_CASE("rope: the first pair turns by exactly `position` radians") {
  RopeConfig c;
  c.rotary_dims = 4;
  const auto y = rotate(c, 3, {1, 0, 0, 0});
  CHECK(y[0] == Approx(std::cos(3.0)));
  CHECK(y[1] == Approx(std::sin(3.0)));
}

TEST_CASE("rope: linear scaling and frequency factors slow the rotation") {
  RopeConfig plain;
  plain.rotary_dims = 8;
  RopeConfig scaled = plain;
  scaled.position_scale = 0.5f;
  RopeConfig factors = plain;
  factors.frequency_factors = {2, 2, 2, 2};
  const std::vector<float> x{1, 2, 3, 4, 5, 6, 7, 8};
  const auto half = rotate(plain, 10, x);
  const auto a = rotate(scaled, 20, x);
  const auto b = rotate(factors, 20, x);
  for (size_t i = 0; i < x.size(); ++i) {
    CHECK(a[i] == Approx(half[i]).margin(1e-5));
    CHECK(b[i] == Approx(half[i]).margin(1e-5));
  }
}

TEST_CASE("rope: dimensions past rotary_dims pass through") {
  RopeConfig c;
  c.rotary_dims = 4;
  const auto y = rotate(c, 5, {1, 2, 3, 4, 5, 6});
  CHECK(y[4] == 5);
  CHECK(y[5] == 6);
}
