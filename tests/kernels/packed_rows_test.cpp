#include <immintrin.h>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "kernels/cpu/cpu_features.hpp"
#include "kernels/cpu/half.hpp"
#include "kernels/cpu/kernel_table.hpp"
#include "kernels/cpu/packed_rows.hpp"
#include "kernels/cpu/vec_dot.hpp"
#include "tests/support/gguf_writer.hpp"

using namespace troupe;

namespace {

struct Case {
  DType type;
  int rows, cols, tokens;
};

std::vector<float> packed_product(const PackedRows& w, const std::vector<ActivationBlock>& x,
                                  int tokens, bool long_run = false) {
  std::vector<float> y(size_t(tokens * w.rows()), NAN);
  for (int64_t g = 0; g < w.groups(); ++g) {
    w.dot_group(g, x.data(), tokens, y.data(), w.rows(), long_run);
  }
  return y;
}

}  // namespace

TEST_CASE("packed Q4_1 and Q8_0 rows give block_dot bit for bit, whatever the batch") {
  if (!can_pack_rows(DType::Q4_1, kPackedRows, kQK)) {
    WARN("this build has no AVX-512 VNNI packed rows: nothing to compare");
    return;
  }
  std::mt19937 rng(17);
  // Token counts that take every tile (8, 4, 2 and 1 tokens; on AMX, 16 tokens, with an odd
  // number of blocks and with more blocks than it unpacks at a time).
  for (const Case c : {Case{DType::Q4_1, 32, 576, 19}, Case{DType::Q8_0, 48, 576, 15},
                       Case{DType::Q4_1, 16, 1536, 8}, Case{DType::Q8_0, 16, 96, 1},
                       Case{DType::Q4_1, 64, 32, 23}, Case{DType::Q8_0, 16, 64, 6},
                       Case{DType::Q4_1, 32, 96, 37}, Case{DType::Q4_1, 16, 2560, 33},
                       Case{DType::Q8_0, 32, 576, 21}, Case{DType::Q8_0, 16, 2560, 35}}) {
    const auto values = test::random_floats(rng, size_t(c.rows * c.cols), 0.7f);
    const auto bytes =
        c.type == DType::Q4_1 ? test::quantize_q4_1(values) : test::quantize_q8_0(values);
    const PackedRows packed(dense_matrix(c.type, c.rows, c.cols, bytes.data()));
    const int blocks = c.cols / kQK;
    std::vector<ActivationBlock> x(size_t(c.tokens * blocks));
    const auto xf = test::random_floats(rng, size_t(c.tokens * c.cols), 3.0f);
    quantize_activations(xf.data(), x.data(), c.tokens * c.cols);

    const auto batched = packed_product(packed, x, c.tokens);
    const int64_t row_stride = row_bytes(c.type, c.cols);
    for (int t = 0; t < c.tokens; ++t) {
      const std::vector<ActivationBlock> one(x.begin() + t * blocks, x.begin() + (t + 1) * blocks);
      const auto alone = packed_product(packed, one, 1);
      REQUIRE(packed_product(packed, one, 1, true) == alone);  // prefetching changes nothing
      for (int r = 0; r < c.rows; ++r) {
        INFO(dtype_name(c.type) << " " << c.rows << "x" << c.cols << ", row " << r << ", token "
                                << t);
        const float b = batched[size_t(t * c.rows + r)];
        REQUIRE(b == alone[size_t(r)]);  // bit for bit: a batch never changes a result
        const float reference =
            block_dot(c.type, bytes.data() + r * row_stride, x.data() + t * blocks, c.cols);
        REQUIRE(b == reference);
      }
    }
  }
}

TEST_CASE("packing rejects what the kernel does not take") {
  CHECK_FALSE(can_pack_rows(DType::Q4_0, 16, 32));
  CHECK_FALSE(can_pack_rows(DType::Q4_1, 15, 32));
  CHECK_FALSE(can_pack_rows(DType::Q8_0, 16, 48));
  const std::vector<std::byte> bytes(1024);
  CHECK_THROWS(PackedRows(dense_matrix(DType::Q4_0, 16, 32, bytes.data())));
}

// x rounded to BF16, to nearest even (finite values).
float round_to_bf16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  bits = (bits + 0x7fffu + ((bits >> 16) & 1u)) & 0xffff0000u;
  float rounded;
  std::memcpy(&rounded, &bits, 4);
  return rounded;
}

TEST_CASE("round_to_bf16 rounds to nearest even at every level") {
  std::mt19937 rng(31);
  auto x = test::random_floats(rng, 1000, 3.0f);
  x[0] = 1.0f + 0x1p-8f;                // a tie, to the even 1.0
  x[1] = 1.0f + 0x1p-7f + 0x1p-8f;      // a tie, to the even 1 + 2^-6
  x[2] = -(1.0f + 0x1p-8f + 0x1p-20f);  // above the tie
  x[3] = INFINITY;
  x[4] = -INFINITY;
  const uint32_t nan_bits[] = {0x7fffffffu, 0x7f800001u, 0xffc00000u, 0x7f80ffffu};
  for (int i = 0; i < 4; ++i) std::memcpy(&x[size_t(5 + i)], &nan_bits[i], 4);
  for (const CpuIsa isa : {CpuIsa::scalar, CpuIsa::avx2, CpuIsa::avx512, CpuIsa::amx}) {
    if (!isa_supported(isa)) continue;
    for (const int64_t n : {int64_t{1000}, int64_t{37}, int64_t{3}}) {
      std::vector<uint16_t> out(size_t(n) + 1, 0xabcd);
      kernel_table(isa).round_to_bf16(x.data(), out.data(), n);
      INFO(isa_name(isa) << ", " << n << " values");
      for (int64_t i = 0; i < n; ++i) {
        const float rounded = bf16_to_float(out[size_t(i)]);
        if (std::isnan(x[size_t(i)])) {
          REQUIRE(std::isnan(rounded));  // never an infinity
        } else {
          REQUIRE(rounded == round_to_bf16(x[size_t(i)]));
        }
      }
      REQUIRE(out[size_t(n)] == 0xabcd);  // nothing written past the end
    }
  }
  CHECK(round_to_bf16(x[0]) == 1.0f);
  CHECK(round_to_bf16(x[1]) == 1.0f + 0x1p-6f);
  CHECK(round_to_bf16(x[2]) == -(1.0f + 0x1p-7f));
  CHECK(round_to_bf16(x[3]) == INFINITY);
}

namespace {

// The AMX-BF16 tile unit's sum of a row and a token (packed_bf16_amx.cpp): per 32 columns the
// chain of even columns' products and the chain of odd ones', each from zero, added, then added
// to the sum.
float tile_order_dot(const uint16_t* w, const uint16_t* x, int cols) {
  float sum = 0;
  for (int first = 0; first < cols; first += 32) {
    float even = 0, odd = 0;
    for (int c = first; c < first + 32; c += 2) {
      even += bf16_to_float(w[c]) * bf16_to_float(x[c]);
      odd += bf16_to_float(w[c + 1]) * bf16_to_float(x[c + 1]);
    }
    sum += even + odd;
  }
  return sum;
}

}  // namespace

TEST_CASE("packed BF16 rows: the float dot product of BF16 weights, whatever the batch") {
  if (!can_pack_rows(DType::BF16, kPackedBf16Rows, kQK)) {
    WARN("this build has no AVX-512 packed rows: nothing to compare");
    return;
  }
  std::mt19937 rng(29);
  const int rows = 64, cols = 576;
  // FP32 activations: tiles of 12, 8, 2, 1 tokens; of 4, 2, 1. BF16 ones on AMX: two tiles of
  // 16 tokens side by side, a third alone, then one token in FMAs; two tiles, then a padded
  // tile of 5; a tile and a padded one of 7; a padded one of 7 (each token alone: the FMAs that
  // repeat the tiles' arithmetic).
  const int tokens = GENERATE(49, 37, 23, 7);
  std::vector<uint16_t> w(size_t(rows * cols));
  const auto values = test::random_floats(rng, w.size(), 0.5f);
  for (size_t i = 0; i < w.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &values[i], 4);
    w[i] = static_cast<uint16_t>(bits >> 16);  // truncation: any BF16 matrix will do
  }
  const PackedRows packed(
      dense_matrix(DType::BF16, rows, cols, reinterpret_cast<const std::byte*>(w.data())));
  const auto x = test::random_floats(rng, size_t(tokens * cols), 2.0f);
  std::vector<uint16_t> x_bf16(x.size());
  kernels().round_to_bf16(x.data(), x_bf16.data(), int64_t(x.size()));

  // Both products where the CPU runs both: FP32 activations, and BF16 ones (cpu_features.hpp:
  // bf16_dot_products picks which the engine takes).
  const bool rounds_here = has_avx512_bf16() && kernels().packed_bf16_rounded != nullptr;
  if (selected_isa() != CpuIsa::amx) WARN("no AMX here: the AMX-BF16 tiles' order goes unchecked");
  for (const bool rounds : {false, true}) {
    if (rounds && !rounds_here) continue;
    auto product = [&](int first, int n, float* y) {
      for (int64_t g = 0; g < packed.groups(); ++g) {
        if (rounds) {
          packed.dot_group(g, x_bf16.data() + first * cols, n, y, rows);
        } else {
          packed.dot_group(g, x.data() + first * cols, n, y, rows);
        }
      }
    };
    std::vector<float> batched(size_t(tokens * rows));
    product(0, tokens, batched.data());
    for (int t = 0; t < tokens; ++t) {
      std::vector<float> alone(static_cast<size_t>(rows));
      product(t, 1, alone.data());
      for (int r = 0; r < rows; ++r) {
        INFO((rounds ? "BF16 activations" : "FP32 activations")
             << ", row " << r << ", token " << t);
        REQUIRE(batched[size_t(t * rows + r)] == alone[size_t(r)]);  // bit for bit
        const uint16_t* row = w.data() + r * cols;
        const uint16_t* token = x_bf16.data() + t * cols;
        if (rounds && selected_isa() == CpuIsa::amx) {
          REQUIRE(alone[size_t(r)] == tile_order_dot(row, token, cols));
        }
        double exact = 0, magnitude = 0;
        for (int c = 0; c < cols; ++c) {
          const float xc = rounds ? bf16_to_float(token[c]) : x[size_t(t * cols + c)];
          const double p = double(bf16_to_float(row[c])) * xc;
          exact += p;
          magnitude += std::fabs(p);
        }
        // Each product and addition rounds once in FP32 (a product of two BF16 values is exact).
        CHECK(std::fabs(alone[size_t(r)] - exact) <= 2 * cols * 0x1p-24 * magnitude);
      }
    }
  }
}

TEST_CASE("packed BF16 rows on AMX: denormals flush in a lone token's FMAs as in the tiles") {
  if (selected_isa() != CpuIsa::amx) {
    WARN("no AMX here: nothing to compare");
    return;
  }
  // Products that underflow FP32 (1e-20 by 1e-20), weights that are BF16 denormals (1e-39, met
  // by 1e30) and sums that cancel into the denormal range: the tile unit flushes them all to
  // zero; without flush-to-zero and denormals-are-zero the FMAs would keep them.
  std::mt19937 rng(37);
  const int rows = 32, cols = 64, tokens = 17;  // a tile, then one token in FMAs
  std::vector<uint16_t> w(size_t(rows * cols));
  std::vector<float> x(size_t(tokens * cols));
  std::uniform_int_distribution<int> pick(0, 3);
  for (auto& v : w) {
    const float choices[] = {1e-20f, -1e-20f, 1e-39f, 2e-38f};
    uint32_t bits;
    std::memcpy(&bits, &choices[pick(rng)], 4);
    v = static_cast<uint16_t>(bits >> 16);
  }
  for (auto& v : x) {
    const float choices[] = {1e-20f, 1e30f, 1.0f, -1.0f};
    v = choices[pick(rng)];
  }
  std::vector<uint16_t> x_bf16(x.size());
  kernels().round_to_bf16(x.data(), x_bf16.data(), int64_t(x.size()));
  const PackedRows packed(
      dense_matrix(DType::BF16, rows, cols, reinterpret_cast<const std::byte*>(w.data())));
  const unsigned int mxcsr = _mm_getcsr();
  std::vector<float> batched(size_t(tokens * rows));
  packed.dot_group(0, x_bf16.data(), tokens, batched.data(), rows);
  int flushed = 0;
  for (int t = 0; t < tokens; ++t) {
    std::vector<float> alone(static_cast<size_t>(rows));
    packed.dot_group(0, x_bf16.data() + t * cols, 1, alone.data(), rows);
    CHECK(_mm_getcsr() == mxcsr);  // the FMAs' flush modes are the call's alone
    for (int r = 0; r < rows; ++r) {
      INFO("row " << r << ", token " << t);
      REQUIRE(batched[size_t(t * rows + r)] == alone[size_t(r)]);
      flushed += alone[size_t(r)] == 0.0f;
    }
  }
  CHECK(flushed > 0);  // the values do reach the denormal range
}
