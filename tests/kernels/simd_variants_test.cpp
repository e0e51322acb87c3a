// Every SIMD variant of every kernel against the scalar reference, on random inputs, for each
// instruction-set level this CPU runs (kernel_table.hpp). Where a variant is built to repeat
// the reference's arithmetic (quantizer, attention, SiLU, softmax) it must equal it bit for bit;
// the dot products sum in another order and must stay within the rounding bound of that sum.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/half.hpp"
#include "kernels/cpu/kernel_table.hpp"
#include "kernels/cpu/packed_rows.hpp"
#include "kernels/cpu/vec_dot.hpp"
#include "tests/support/gguf_writer.hpp"

using namespace troupe;

namespace {

const KernelTable& reference() {
  return kernel_table(CpuIsa::scalar);
}

std::vector<CpuIsa> simd_levels() {
  std::vector<CpuIsa> levels;
  for (CpuIsa isa : {CpuIsa::avx2, CpuIsa::avx512, CpuIsa::amx}) {
    if (isa_supported(isa)) levels.push_back(isa);
  }
  if (levels.empty()) WARN("this CPU or build has no SIMD level: only the scalar kernels run");
  return levels;
}

std::vector<ActivationBlock> quantized(std::mt19937& rng, int blocks, float scale) {
  const auto x = test::random_floats(rng, size_t(blocks) * kQK, scale);
  std::vector<ActivationBlock> out(static_cast<size_t>(blocks));
  reference().quantize_activations(x.data(), out.data(), blocks * kQK);
  return out;
}

uint16_t random_scale(std::mt19937& rng) {
  return float_to_half(std::uniform_real_distribution<float>(1e-4f, 0.05f)(rng));
}

// Random blocks over every bit pattern of the values.
template <typename Block>
std::vector<Block> random_blocks(std::mt19937& rng, int blocks) {
  std::vector<Block> w(static_cast<size_t>(blocks));
  std::uniform_int_distribution<int> byte(0, 255);
  for (Block& b : w) {
    b.d = random_scale(rng);
    if constexpr (requires { b.m; }) {
      b.m = float_to_half(-std::uniform_real_distribution<float>(0, 0.5f)(rng));
    }
    for (auto& q : b.qs) q = static_cast<std::remove_reference_t<decltype(q)>>(byte(rng));
  }
  return w;
}

// The sum of |terms| of a quantized dot product, in double: float summation of n terms in any
// order, with or without FMA, is off by at most about n * 2^-24 of it.
template <typename Block>
double magnitude(const std::vector<Block>& w, const std::vector<ActivationBlock>& x) {
  double total = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    int isum_abs = 0;
    for (int j = 0; j < kQK; ++j) isum_abs += 255 * std::abs(x[i].qs[j]);
    total += std::fabs(double(half_to_float(w[i].d)) * x[i].d) * isum_abs;
    if constexpr (requires { w[i].m; }) total += std::fabs(half_to_float(w[i].m) * x[i].sum);
  }
  return total;
}

double rounding_bound(int terms, double magnitude) {
  return 4.0 * (terms + 16) * 0x1p-24 * magnitude;
}

}  // namespace

TEST_CASE("the SIMD activation quantizer equals the scalar one bit for bit") {
  std::mt19937 rng(1);
  for (CpuIsa isa : simd_levels()) {
    for (float scale : {0.0f, 1e-3f, 1.0f, 300.0f}) {
      const int blocks = 37;
      auto x = test::random_floats(rng, size_t(blocks) * kQK, scale);
      x[5] = 0.5f * scale;  // a tie after scaling is possible: rounding must be half to even
      std::vector<ActivationBlock> want(static_cast<size_t>(blocks)),
          got(static_cast<size_t>(blocks));
      reference().quantize_activations(x.data(), want.data(), blocks * kQK);
      kernel_table(isa).quantize_activations(x.data(), got.data(), blocks * kQK);
      for (int b = 0; b < blocks; ++b) {
        INFO(isa_name(isa) << ", scale " << scale << ", block " << b);
        const ActivationBlock &w = want[size_t(b)], &g = got[size_t(b)];
        REQUIRE(g.d == w.d);
        REQUIRE(g.sum == w.sum);
        for (int j = 0; j < kQK; ++j) REQUIRE(g.qs[j] == w.qs[j]);
        REQUIRE(g.offset == w.offset);
      }
    }
  }
}

TEST_CASE("SIMD integer dot products stay within the rounding bound of the scalar ones") {
  std::mt19937 rng(2);
  for (CpuIsa isa : simd_levels()) {
    const KernelTable& k = kernel_table(isa);
    for (int blocks : {1, 2, 18, 48}) {
      for (int trial = 0; trial < 50; ++trial) {
        INFO(isa_name(isa) << ", " << blocks << " blocks, trial " << trial);
        const auto x = quantized(rng, blocks, 4.0f);
        const auto q40 = random_blocks<BlockQ4_0>(rng, blocks);
        const auto q41 = random_blocks<BlockQ4_1>(rng, blocks);
        const auto q80 = random_blocks<BlockQ8_0>(rng, blocks);
        CHECK(std::fabs(k.dot_q4_0(q40.data(), x.data(), blocks) -
                        reference().dot_q4_0(q40.data(), x.data(), blocks)) <=
              rounding_bound(blocks, magnitude(q40, x)));
        CHECK(std::fabs(k.dot_q4_1(q41.data(), x.data(), blocks) -
                        reference().dot_q4_1(q41.data(), x.data(), blocks)) <=
              rounding_bound(2 * blocks, magnitude(q41, x)));
        CHECK(std::fabs(k.dot_q8_0(q80.data(), x.data(), blocks) -
                        reference().dot_q8_0(q80.data(), x.data(), blocks)) <=
              rounding_bound(blocks, magnitude(q80, x)));
      }
    }
  }
}

TEST_CASE("the SIMD float dot product stays within the rounding bound of the scalar one") {
  std::mt19937 rng(3);
  for (CpuIsa isa : simd_levels()) {
    for (int n : {1, 15, 16, 17, 576, 1000}) {
      const auto a = test::random_floats(rng, size_t(n), 2.0f);
      const auto b = test::random_floats(rng, size_t(n), 2.0f);
      double magnitude = 0;
      for (int i = 0; i < n; ++i) magnitude += std::fabs(double(a[size_t(i)]) * b[size_t(i)]);
      INFO(isa_name(isa) << ", n = " << n);
      CHECK(std::fabs(kernel_table(isa).dot_f32(a.data(), b.data(), n) -
                      reference().dot_f32(a.data(), b.data(), n)) <= rounding_bound(n, magnitude));
    }
  }
}

TEST_CASE("the 2 x 4 Q4_1 tile equals its level's one-row dot product bit for bit") {
  std::mt19937 rng(4);
  for (CpuIsa isa : simd_levels()) {
    const KernelTable& k = kernel_table(isa);
    if (!k.dot_q4_1_2x4) continue;
    const int blocks = 18;
    const auto w0 = random_blocks<BlockQ4_1>(rng, blocks),
               w1 = random_blocks<BlockQ4_1>(rng, blocks);
    std::vector<std::vector<ActivationBlock>> xs;
    for (int t = 0; t < 4; ++t) xs.push_back(quantized(rng, blocks, 3.0f));
    const BlockQ4_1* const rows[2] = {w0.data(), w1.data()};
    const ActivationBlock* const x[4] = {xs[0].data(), xs[1].data(), xs[2].data(), xs[3].data()};
    float out[2][4];
    k.dot_q4_1_2x4(rows, x, blocks, out);
    for (int r = 0; r < 2; ++r) {
      for (int t = 0; t < 4; ++t) {
        INFO(isa_name(isa) << ", row " << r << ", token " << t);
        REQUIRE(out[r][t] == k.dot_q4_1(rows[r], x[t], blocks));
      }
    }
  }
}

TEST_CASE("packed rows stay within the rounding bound of the scalar dot product") {
  if (!can_pack_rows(DType::Q4_1, kPackedRows, kQK)) {
    WARN("the selected kernels have no packed rows: nothing to compare");
    return;
  }
  std::mt19937 rng(5);
  const int rows = 32, cols = 576, blocks = cols / kQK, tokens = 5;
  for (DType type : {DType::Q4_1, DType::Q8_0}) {
    const auto values = test::random_floats(rng, size_t(rows * cols), 0.7f);
    const auto bytes =
        type == DType::Q4_1 ? test::quantize_q4_1(values) : test::quantize_q8_0(values);
    const PackedRows packed(dense_matrix(type, rows, cols, bytes.data()));
    const auto x = quantized(rng, tokens * blocks, 3.0f);
    std::vector<float> y(static_cast<size_t>(tokens * rows));
    for (int64_t g = 0; g < packed.groups(); ++g)
      packed.dot_group(g, x.data(), tokens, y.data(), rows);
    for (int t = 0; t < tokens; ++t) {
      const std::vector<ActivationBlock> xt(x.begin() + t * blocks, x.begin() + (t + 1) * blocks);
      for (int r = 0; r < rows; ++r) {
        INFO(dtype_name(type) << ", row " << r << ", token " << t);
        const std::byte* row = bytes.data() + r * row_bytes(type, cols);
        double want, bound;
        if (type == DType::Q4_1) {
          const auto* w = reinterpret_cast<const BlockQ4_1*>(row);
          want = reference().dot_q4_1(w, xt.data(), blocks);
          bound = rounding_bound(2 * blocks, magnitude(std::vector<BlockQ4_1>(w, w + blocks), xt));
        } else {
          const auto* w = reinterpret_cast<const BlockQ8_0*>(row);
          want = reference().dot_q8_0(w, xt.data(), blocks);
          bound = rounding_bound(blocks, magnitude(std::vector<BlockQ8_0>(w, w + blocks), xt));
        }
        CHECK(std::fabs(y[size_t(t * rows + r)] - want) <= bound);
      }
    }
  }
}

// A queue of one line asked for again and again, as paged_attention's when nothing is ahead.
LineQueue nothing_ahead() {
  static const char line[128] = {};
  static const char* const run = line;
  return LineQueue{&run, &run, 128};
}

TEST_CASE("SIMD attention scores and weighted values equal the scalar ones bit for bit") {
  std::mt19937 rng(6);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  for (CpuIsa isa : simd_levels()) {
    const KernelTable& k = kernel_table(isa);
    for (int block_size : {8, 16, 32}) {
      for (int head_dim : {40, 64, 128}) {
        INFO(isa_name(isa) << ", block size " << block_size << ", head_dim " << head_dim);
        constexpr int kBlocks = 17;  // 136 to 544 positions, in blocks out of order
        std::vector<std::vector<uint16_t>> blocks(kBlocks);
        std::vector<const uint16_t*> block_ptrs;
        for (auto& block : blocks) {
          for (int i = 0; i < block_size * head_dim; ++i) block.push_back(float_to_half(unit(rng)));
        }
        for (int b = kBlocks - 1; b >= 0; --b) block_ptrs.push_back(blocks[size_t(b)].data());
        for (int queries : {1, 3, 6, 7, 12, 15}) {
          INFO(queries << " query heads");
          const auto q = test::random_floats(rng, size_t(queries * head_dim), 1.0f);
          for (int first : {0, 16, 5, 64}) {
            for (int count : {1, 7, 16, 17, 64}) {
              INFO("positions " << first << " + " << count);
              // Rows of kAttentionTile per query; only the first `count` of each are results.
              const size_t size = size_t(queries * kAttentionTile);
              std::vector<float> want(size), got(size);
              LineQueue ahead = nothing_ahead();
              reference().attention_scores(q.data(), queries, block_ptrs.data(), block_size, first,
                                           count, head_dim, 0.125f, want.data(), ahead);
              k.attention_scores(q.data(), queries, block_ptrs.data(), block_size, first, count,
                                 head_dim, 0.125f, got.data(), ahead);
              for (int g = 0; g < queries; ++g) {
                for (int i = 0; i < count; ++i) {
                  REQUIRE(got[size_t(g * kAttentionTile + i)] ==
                          want[size_t(g * kAttentionTile + i)]);
                }
              }
            }
          }
        }
        // Values: rows of kRowStride halves in blocks out of order, the head's part at offset 8.
        constexpr int kRowStride = 200;
        std::vector<std::vector<uint16_t>> value_blocks(kBlocks);
        std::vector<const uint16_t*> value_ptrs;
        for (auto& block : value_blocks) {
          for (int i = 0; i < block_size * kRowStride; ++i)
            block.push_back(float_to_half(unit(rng)));
        }
        for (int b = kBlocks - 1; b >= 0; --b)
          value_ptrs.push_back(value_blocks[size_t(b)].data() + 8);
        for (int queries : {1, 3, 6, 7, 12, 15}) {
          for (int first : {0, 16, 5, 64}) {
            for (int count : {1, 15, 16, 33, 64}) {
              INFO(queries << " query heads, value positions " << first << " + " << count);
              const auto weight = test::random_floats(rng, size_t(queries * kAttentionTile), 1.0f);
              auto want = test::random_floats(rng, size_t(queries * head_dim), 1.0f);  // added to
              auto got = want;
              LineQueue ahead = nothing_ahead();
              reference().attention_values(weight.data(), queries, value_ptrs.data(), block_size,
                                           kRowStride, first, count, head_dim, want.data(), ahead);
              k.attention_values(weight.data(), queries, value_ptrs.data(), block_size, kRowStride,
                                 first, count, head_dim, got.data(), ahead);
              REQUIRE(got == want);
            }
          }
        }
      }
    }
  }
}

TEST_CASE("SIMD attention kernels ask for two lines of their queue a step, in order") {
  // Runs of 256 bytes, two steps each; a tile of 64 positions in blocks of 16, 64 dimensions.
  std::vector<char> memory(60 * 256);
  std::vector<const char*> runs;
  for (size_t i = 0; i < 60; ++i) runs.push_back(memory.data() + i * 256);
  std::mt19937 rng(11);
  std::vector<std::vector<uint16_t>> blocks(4, std::vector<uint16_t>(16 * 64, float_to_half(0.5f)));
  const std::vector<const uint16_t*> block_ptrs{blocks[0].data(), blocks[1].data(),
                                                blocks[2].data(), blocks[3].data()};
  const auto q = test::random_floats(rng, 3 * 64, 1.0f);
  std::vector<float> scores(3 * kAttentionTile), out(3 * 64);
  if (!isa_supported(CpuIsa::avx512)) WARN("no AVX-512: no SIMD attention kernel to check");
  CHECK_FALSE(kernel_table(CpuIsa::scalar).attention_asks_ahead(16, 64));
  if (isa_supported(CpuIsa::avx512)) {  // the level with SIMD attention kernels
    const KernelTable& k = kernel_table(CpuIsa::avx512);
    CHECK(k.attention_asks_ahead(16, 64));
    CHECK_FALSE(k.attention_asks_ahead(8, 64));   // its scores fall back to the scalar kernel
    CHECK_FALSE(k.attention_asks_ahead(16, 40));  // its values do
    // Scores of 3 query heads: a step a dimension, 64 steps, 128 lines, 32 runs.
    LineQueue ahead{runs.data(), &runs.back(), 256};
    k.attention_scores(q.data(), 3, block_ptrs.data(), 16, 0, 64, 64, 0.125f, scores.data(), ahead);
    CHECK(ahead.run == runs.data() + 32);
    CHECK(ahead.offset == 0);
    // Values of 15 positions: a step a position, 30 lines, 7 runs and a half.
    k.attention_values(scores.data(), 3, block_ptrs.data(), 16, 64, 0, 15, 64, out.data(), ahead);
    CHECK(ahead.run == runs.data() + 39);
    CHECK(ahead.offset == 128);
    // Then 98 lines more, past the end: it stays at the last run.
    k.attention_values(scores.data(), 3, block_ptrs.data(), 16, 64, 15, 49, 64, out.data(), ahead);
    CHECK(ahead.run == &runs.back());
  }
}

TEST_CASE("SIMD attention softmax tiles equal the scalar ones bit for bit") {
  std::mt19937 rng(8);
  for (CpuIsa isa : simd_levels()) {
    const KernelTable& k = kernel_table(isa);
    // Rows of every count, one of them a row that does not take part (count 0), running maxima
    // below, above and among the scores, and a NaN score.
    const std::vector<int> counts{1, 15, 16, 17, 0, 33, 64, 64};
    const int rows = static_cast<int>(counts.size());
    auto scores = test::random_floats(rng, size_t(rows * kAttentionTile), 6.0f);
    scores[size_t(7 * kAttentionTile + 3)] = NAN;
    std::vector<float> max_want{-INFINITY, -INFINITY, 100.0f, 0.5f, 2.0f, -3.0f, 1.0f, -INFINITY};
    auto max_got = max_want;
    auto want = scores, got = scores;
    std::vector<double> sum_want(counts.size()), sum_got(counts.size());
    reference().softmax_tile(want.data(), rows, counts.data(), max_want.data(), sum_want.data());
    k.softmax_tile(got.data(), rows, counts.data(), max_got.data(), sum_got.data());
    INFO(isa_name(isa));
    const auto same = [](double a, double b) { return std::isnan(a) ? std::isnan(b) : a == b; };
    REQUIRE(max_got == max_want);
    for (int g = 0; g < rows; ++g) {
      REQUIRE(same(sum_got[size_t(g)], sum_want[size_t(g)]));
      for (int i = 0; i < counts[size_t(g)]; ++i) {
        const size_t at = size_t(g * kAttentionTile + i);
        REQUIRE(same(got[at], want[at]));
      }
    }
    CHECK(max_want[2] == 100.0f);  // a running maximum above the tile stays
    CHECK(max_want[4] == 2.0f);    // so does a row's that takes no part, with a sum of 0
    CHECK(sum_want[4] == 0.0f);
    CHECK(std::isfinite(max_want[7]));  // the NaN is passed over
  }
}

TEST_CASE("SIMD SiLU and softmax exponentials equal the scalar ones bit for bit") {
  std::mt19937 rng(7);
  for (CpuIsa isa : simd_levels()) {
    const KernelTable& k = kernel_table(isa);
    for (int n : {1, 15, 16, 17, 1536, 1000}) {
      INFO(isa_name(isa) << ", n = " << n);
      const auto gate = test::random_floats(rng, size_t(n), 12.0f);
      const auto up = test::random_floats(rng, size_t(n), 3.0f);
      auto want = gate, got = gate;
      reference().silu_mul(want.data(), up.data(), n);
      k.silu_mul(got.data(), up.data(), n);
      REQUIRE(got == want);

      auto e_want = gate, e_got = gate;
      const double sum_want = reference().exp_shifted_sum(e_want.data(), n, 12.0f);
      const double sum_got = k.exp_shifted_sum(e_got.data(), n, 12.0f);
      REQUIRE(e_got == e_want);
      REQUIRE(sum_got == sum_want);
    }
  }
}

TEST_CASE("SIMD argmax gives the first index of the largest value, as std::max_element does") {
  std::mt19937 rng(11);
  for (CpuIsa isa : {CpuIsa::scalar, CpuIsa::avx2, CpuIsa::avx512, CpuIsa::amx}) {
    if (!isa_supported(isa)) continue;
    const KernelTable& k = kernel_table(isa);
    for (int n : {1, 15, 16, 17, 1000, 49152}) {
      INFO(isa_name(isa) << ", n = " << n);
      auto x = test::random_floats(rng, size_t(n), 5.0f);
      REQUIRE(k.argmax(x.data(), n) == std::max_element(x.begin(), x.end()) - x.begin());
      // Ties: the first one wins, across lanes and within one.
      x[size_t(n - 1)] = 9.0f;
      if (n > 3) x[size_t(n / 3)] = 9.0f;
      REQUIRE(k.argmax(x.data(), n) == std::max_element(x.begin(), x.end()) - x.begin());
      // A NaN is passed over; all -inf or nothing gives 0.
      x[0] = NAN;
      if (n > 1) REQUIRE(k.argmax(x.data(), n) == (n > 3 ? n / 3 : n - 1));
      std::fill(x.begin(), x.end(), -INFINITY);
      REQUIRE(k.argmax(x.data(), n) == 0);
    }
    REQUIRE(k.argmax(nullptr, 0) == 0);
  }
}

TEST_CASE("the selected level is one this CPU runs, and names parse back") {
  REQUIRE(isa_supported(selected_isa()));
  REQUIRE(kernels().isa == selected_isa());
  for (CpuIsa isa : {CpuIsa::scalar, CpuIsa::avx2, CpuIsa::avx512, CpuIsa::amx}) {
    REQUIRE(parse_isa(isa_name(isa)) == isa);
  }
  REQUIRE_FALSE(parse_isa("sse9").has_value());
  REQUIRE(isa_supported(CpuIsa::scalar));
}
