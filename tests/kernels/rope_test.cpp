#include <catch2/catch.hpp>
#include <cmath>

#include <random>
#include <vector>

#include "kernels/cpu/paged_attention.hpp"
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

TEST_CASE("rope applied while storing keys equals rotating then storing, for both styles") {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> unit(-2.0f, 2.0f);
  const int head_dim = 64, kv_heads = 3, kv_dim = head_dim * kv_heads, block_size = 16;
  for (RopeStyle style : {RopeStyle::Normal, RopeStyle::NeoX}) {
    RopeConfig config;
    config.style = style;
    config.rotary_dims = 48;  // the last 16 dimensions pass through
    const int32_t positions[] = {5, 37};
    RopeTable table;
    table.compute(config, positions, 2);
    std::vector<uint16_t> fused_k(3 * block_size * kv_dim), fused_v(fused_k.size());
    std::vector<uint16_t> plain_k(fused_k.size()), plain_v(fused_k.size());
    std::vector<uint16_t> by_head_k(fused_k.size()), by_head_v(fused_k.size());
    const int32_t block_table[] = {2, 0, 1};
    for (int t = 0; t < 2; ++t) {
      std::vector<float> key(kv_dim), value(kv_dim);
      for (auto& x : key) x = unit(rng);
      for (auto& x : value) x = unit(rng);
      const TokenPlace place{block_table, positions[t]};
      const auto key_before = key;
      store_rotated_kv(PagedKvLayer{fused_k.data(), fused_v.data(), block_size, kv_dim, head_dim},
                       place, table, config, t, key.data(), value.data());
      REQUIRE(key == key_before);
      // As the threads of a region store it: a share of the heads each, the last head first.
      const PagedKvLayer by_head{by_head_k.data(), by_head_v.data(), block_size, kv_dim, head_dim};
      store_rotated_key_heads(by_head, place, table, config, t, key.data(), 2, 3);
      store_value_heads(by_head, place, value.data(), 1, 3);
      store_rotated_key_heads(by_head, place, table, config, t, key.data(), 0, 2);
      store_value_heads(by_head, place, value.data(), 0, 1);
      table.apply(config, t, key.data(), kv_heads, head_dim);
      store_kv(PagedKvLayer{plain_k.data(), plain_v.data(), block_size, kv_dim, head_dim}, place,
               key.data(), value.data());
    }
    REQUIRE(fused_k == plain_k);
    REQUIRE(fused_v == plain_v);
    REQUIRE(by_head_k == plain_k);
    REQUIRE(by_head_v == plain_v);
  }
}
