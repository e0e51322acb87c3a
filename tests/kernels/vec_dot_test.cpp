#include <catch2/catch.hpp>
#include <cmath>

#include "kernels/cpu/dequantize.hpp"
#include "kernels/cpu/half.hpp"
#include "kernels/cpu/matmul.hpp"
#include "kernels/cpu/packed_rows.hpp"
#include "kernels/cpu/vec_dot.hpp"
#include "tests/support/gguf_writer.hpp"

using namespace troupe;

TEST_CASE("integer dot products stay within 8-bit activation error of the float product") {
  std::mt19937 rng(7);
  const int n = 256;
  for (DType type : {DType::Q4_1, DType::Q8_0}) {
    for (int trial = 0; trial < 20; ++trial) {
      const auto w = test::random_floats(rng, n, 0.5f);
      const auto x = test::random_floats(rng, n, 2.0f);
      const auto q = type == DType::Q4_1 ? test::quantize_q4_1(w) : test::quantize_q8_0(w);
      std::vector<float> wd(n);
      dequantize_row(type, q.data(), wd.data(), n);
      std::vector<ActivationBlock> xq(n / kQK);
      quantize_activations(x.data(), xq.data(), n);
      double exact = 0, magnitude = 0;
      for (int i = 0; i < n; ++i) {
        exact += double(wd[size_t(i)]) * x[size_t(i)];
        magnitude += std::abs(double(wd[size_t(i)]) * x[size_t(i)]);
      }
      // Each activation is off by at most half a step (max|x| / 254) of its block.
      CHECK(std::abs(dot_quantized(type, q.data(), xq.data(), n) - exact) < 0.01 * magnitude);
    }
  }
}

TEST_CASE("activation quantization reports its block sums as d times the sum of its values") {
  std::mt19937 rng(3);
  const auto x = test::random_floats(rng, 64, 5.0f);
  std::vector<ActivationBlock> xq(2);
  quantize_activations(x.data(), xq.data(), 64);
  for (int b = 0; b < 2; ++b) {
    int sum = 0;
    for (int j = 0; j < kQK; ++j) sum += xq[size_t(b)].qs[j];
    CHECK(xq[size_t(b)].sum == xq[size_t(b)].d * float(sum));
  }
}

TEST_CASE("matmul over a batch equals one token at a time, for quantized and float weights") {
  std::mt19937 rng(11);
  const int rows = 37, cols = 96, tokens = 5;
  ThreadPool pool(2);
  // Q4_1 goes through 2x4 tiles (37 rows and 5 tokens leave a row and a token over).
  for (DType type : {DType::Q4_1, DType::Q8_0, DType::F32}) {
    const auto values = test::random_floats(rng, size_t(rows * cols), 1.0f);
    const auto bytes = type == DType::Q4_1   ? test::quantize_q4_1(values)
                       : type == DType::Q8_0 ? test::quantize_q8_0(values)
                                             : test::as_bytes(values);
    const WeightMatrix w = dense_matrix(type, rows, cols, bytes.data());
    const auto x = test::random_floats(rng, size_t(tokens * cols), 1.0f);
    std::vector<float> batched(static_cast<size_t>(tokens * rows));
    std::vector<float> single(static_cast<size_t>(rows));
    MatmulScratch scratch;
    matmul(pool, w, x.data(), tokens, batched.data(), scratch);
    for (int t = 0; t < tokens; ++t) {
      matmul(pool, w, x.data() + t * cols, 1, single.data(), scratch);
      for (int r = 0; r < rows; ++r) REQUIRE(batched[size_t(t * rows + r)] == single[size_t(r)]);
    }
  }
}

TEST_CASE("a packed matrix over a long prompt, in runs of tokens, equals one token at a time") {
  if (!can_pack_rows(DType::Q4_1, kPackedRows, kQK)) {
    WARN("this build has no AVX-512 VNNI packed rows: nothing to compare");
    return;
  }
  std::mt19937 rng(19);
  const int rows = 48, cols = 64, tokens = 300;  // runs of 128, 128 and 44 tokens
  ThreadPool pool(2);
  const auto values = test::random_floats(rng, size_t(rows * cols), 1.0f);
  const auto bytes = test::quantize_q4_1(values);
  WeightMatrix w = dense_matrix(DType::Q4_1, rows, cols, bytes.data());
  const PackedRows packed(w);
  w.packed = &packed;
  const auto x = test::random_floats(rng, size_t(tokens * cols), 1.0f);
  std::vector<float> batched(static_cast<size_t>(tokens * rows), NAN);
  std::vector<float> single(static_cast<size_t>(rows));
  MatmulScratch scratch;
  matmul(pool, w, x.data(), tokens, batched.data(), scratch);
  for (int t = 0; t < tokens; ++t) {
    matmul(pool, w, x.data() + t * cols, 1, single.data(), scratch);
    for (int r = 0; r < rows; ++r) {
      INFO("token " << t << ", row " << r);
      REQUIRE(batched[size_t(t * rows + r)] == single[size_t(r)]);
    }
  }
}

TEST_CASE("matmul_shared_input equals one matmul per matrix, whatever the types") {
  std::mt19937 rng(13);
  const int cols = 64, tokens = 6;
  ThreadPool pool(2);
  const auto v1 = test::random_floats(rng, 10 * cols, 1.0f);
  const auto v2 = test::random_floats(rng, 7 * cols, 1.0f);
  const auto v3 = test::random_floats(rng, 5 * cols, 1.0f);
  const auto b1 = test::quantize_q4_1(v1), b2 = test::as_bytes(v2), b3 = test::quantize_q8_0(v3);
  const WeightMatrix w1 = dense_matrix(DType::Q4_1, 10, cols, b1.data()),
                     w2 = dense_matrix(DType::F32, 7, cols, b2.data()),
                     w3 = dense_matrix(DType::Q8_0, 5, cols, b3.data());
  const auto x = test::random_floats(rng, size_t(tokens * cols), 1.0f);
  std::vector<float> y1(10 * tokens), y2(7 * tokens), y3(5 * tokens), single(10 * tokens);
  MatmulScratch scratch;
  const MatmulOutput outputs[] = {{&w1, y1.data()}, {&w2, y2.data()}, {&w3, y3.data()}};
  matmul_shared_input(pool, outputs, x.data(), tokens, scratch);
  for (const auto& out : outputs) {
    matmul(pool, *out.weights, x.data(), tokens, single.data(), scratch);
    for (int64_t i = 0; i < out.weights->rows * tokens; ++i) REQUIRE(out.y[i] == single[size_t(i)]);
  }
}

TEST_CASE(
    "activation quantization rounds as llama.cpp, half to even, and keeps its scale and sum as "
    "floats") {
  std::mt19937 rng(21);
  const int n = 32 * 64;
  auto x = test::random_floats(rng, n, 4.0f);
  for (int j = 0; j < 32; ++j) x[size_t(j)] = 0.0f;                       // an all-zero block
  for (int j = 0; j < 32; ++j) x[size_t(32 + j)] = float(j - 16) * 0.5f;  // ties at .5 steps
  x[64 + 5] = 127.0f;  // with amax 127 the values themselves are the steps: 2.5 -> 2, 3.5 -> 4
  x[64 + 6] = 2.5f, x[64 + 7] = 3.5f, x[64 + 8] = -2.5f;
  std::vector<ActivationBlock> q(n / kQK);
  quantize_activations(x.data(), q.data(), n);
  for (int b = 0; b < n / kQK; ++b) {
    const float* xb = x.data() + b * kQK;
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(xb[j]));
    const float inv = amax != 0 ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < kQK; ++j) {
      const int expected = int(std::nearbyint(xb[j] * inv));
      INFO("block " << b << ", element " << j);
      REQUIRE(q[size_t(b)].qs[j] == expected);
      sum += expected;
    }
    CHECK(q[size_t(b)].offset == -128 * sum);
    CHECK(q[size_t(b)].d == amax / 127.0f);
    CHECK(q[size_t(b)].sum == amax / 127.0f * float(sum));
  }
  CHECK(q[2].qs[6] == 2);
  CHECK(q[2].qs[7] == 4);
  CHECK(q[2].qs[8] == -2);
}
