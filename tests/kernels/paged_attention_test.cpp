#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/half.hpp"
#include "kernels/cpu/paged_attention.hpp"
#include "tests/support/gguf_writer.hpp"

using namespace troupe;

namespace {

constexpr int kBlockSize = 16;

// One sequence's cache of `length` positions in blocks handed out in reverse order.
struct Sequence {
  std::vector<uint16_t> keys, values;
  std::vector<int32_t> table;
  PagedKvLayer layer;
  std::vector<float> k, v;  // what was stored, as floats, [position][kv_dim]

  Sequence(int length, int kv_dim, int head_dim, std::mt19937& rng) {
    const int blocks = (length + kBlockSize - 1) / kBlockSize;
    keys.resize(size_t(blocks * kBlockSize * kv_dim));
    values.resize(keys.size());
    for (int b = 0; b < blocks; ++b) table.push_back(blocks - 1 - b);
    layer = PagedKvLayer{keys.data(), values.data(), kBlockSize, kv_dim, head_dim};
    k = test::random_floats(rng, size_t(length * kv_dim), 1.0f);
    v = test::random_floats(rng, size_t(length * kv_dim), 1.0f);
    for (int p = 0; p < length; ++p) {
      store_kv(layer, TokenPlace{table.data(), p}, &k[size_t(p * kv_dim)], &v[size_t(p * kv_dim)]);
    }
  }
};

// softmax(q . K^T * scale) V in double over the stored (F16-rounded) keys and values.
std::vector<double> naive(const AttentionShape& s, const Sequence& seq, const float* q,
                          int position) {
  const int group = s.heads / s.kv_heads, kv_dim = s.kv_heads * s.head_dim;
  std::vector<double> out(size_t(s.heads * s.head_dim));
  for (int h = 0; h < s.heads; ++h) {
    const int kv = (h / group) * s.head_dim;
    std::vector<double> w(size_t(position + 1));
    double largest = -INFINITY, total = 0;
    for (int p = 0; p <= position; ++p) {
      double dot = 0;
      for (int d = 0; d < s.head_dim; ++d) {
        const float key = half_to_float(float_to_half(seq.k[size_t(p * kv_dim + kv + d)]));
        dot += double(q[h * s.head_dim + d]) * key;
      }
      w[size_t(p)] = dot * s.scale;
      largest = std::max(largest, w[size_t(p)]);
    }
    for (double& x : w) total += x = std::exp(x - largest);
    for (int p = 0; p <= position; ++p) {
      for (int d = 0; d < s.head_dim; ++d) {
        const float value = half_to_float(float_to_half(seq.v[size_t(p * kv_dim + kv + d)]));
        out[size_t(h * s.head_dim + d)] += w[size_t(p)] / total * value;
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("paged attention: a prompt's tokens in one step equal each token alone, bit for bit") {
  std::mt19937 rng(21);
  // GQA groups of 3 (runs of 4 tokens), 1 (runs of 12), 8 (runs of one token) and 16 (more
  // query heads than one pass takes), on one and two threads; prompts that end inside a tile,
  // on a tile's edge and one past it; and a cache large enough (300 positions of 8 KV heads of
  // 128: 1.2 MB) that the values are prefetched as from DRAM. Alone, a token of up to 64
  // positions runs on the caller even with two threads, and one past that on the pool.
  const AttentionShape shapes[] = {{9, 3, 64, 0.125f},
                                   {4, 4, 32, 0.2f},
                                   {8, 1, 16, 0.25f},
                                   {16, 1, 16, 0.25f},
                                   {8, 8, 128, 0.09f}};
  for (const AttentionShape& shape : shapes) {
    for (int threads : {1, 2}) {
      ThreadPool pool(threads);
      for (int length : {1, 5, 64, 65, 130, 200, 300, 520}) {
        INFO(shape.heads << " heads on " << shape.kv_heads << ", " << threads << " threads, "
                         << length << " tokens");
        const int kv_dim = shape.kv_heads * shape.head_dim, q_dim = shape.heads * shape.head_dim;
        Sequence seq(length, kv_dim, shape.head_dim, rng);
        const auto q = test::random_floats(rng, size_t(length * q_dim), 2.0f);
        std::vector<TokenPlace> places;
        for (int p = 0; p < length; ++p) places.push_back(TokenPlace{seq.table.data(), p});
        std::vector<float> together(q.size()), alone(q.size());
        paged_attention(pool, shape, seq.layer, q.data(), places.data(), length, together.data());
        for (int p = 0; p < length; ++p) {
          const auto at = size_t(p * q_dim);
          paged_attention(pool, shape, seq.layer, &q[at], &places[size_t(p)], 1, &alone[at]);
        }
        size_t differ = 0;
        while (differ < q.size() && together[differ] == alone[differ]) ++differ;
        INFO("first difference at " << differ);
        REQUIRE(together == alone);
        // And both are attention: against double precision at a few positions.
        for (int p : {0, length / 2, length - 1}) {
          const auto want = naive(shape, seq, &q[size_t(p * q_dim)], p);
          for (int i = 0; i < q_dim; ++i) {
            REQUIRE(together[size_t(p * q_dim + i)] == Approx(want[size_t(i)]).margin(2e-4));
          }
        }
      }
    }
  }
}

TEST_CASE("paged attention: runs break where the sequence or the positions change") {
  std::mt19937 rng(22);
  const AttentionShape shape{6, 2, 32, 0.17f};
  const int kv_dim = 64, q_dim = 192;
  ThreadPool pool(2);
  // Two sequences of 40 positions in one cache, their blocks interleaved.
  std::vector<uint16_t> keys(size_t(6 * kBlockSize * kv_dim)), values(keys.size());
  const PagedKvLayer layer{keys.data(), values.data(), kBlockSize, kv_dim, 32};
  const std::vector<int32_t> a{4, 1, 5}, b{0, 3, 2};
  for (const auto* table : {&a, &b}) {
    for (int p = 0; p < 40; ++p) {
      const auto k = test::random_floats(rng, size_t(kv_dim), 1.0f);
      const auto v = test::random_floats(rng, size_t(kv_dim), 1.0f);
      store_kv(layer, TokenPlace{table->data(), p}, k.data(), v.data());
    }
  }
  // A batch as chunked prefill and decode make them: a's positions 3..7, b's 0..2, a's 30 and
  // 31 (a gap before them), b's 20.
  std::vector<TokenPlace> places;
  for (int p = 3; p <= 7; ++p) places.push_back({a.data(), p});
  for (int p = 0; p <= 2; ++p) places.push_back({b.data(), p});
  places.push_back({a.data(), 30});
  places.push_back({a.data(), 31});
  places.push_back({b.data(), 20});
  const auto q = test::random_floats(rng, places.size() * q_dim, 2.0f);
  std::vector<float> together(q.size());
  paged_attention(pool, shape, layer, q.data(), places.data(), std::ssize(places), together.data());
  for (size_t t = 0; t < places.size(); ++t) {
    INFO("token " << t);
    std::vector<float> alone(static_cast<size_t>(q_dim));
    paged_attention(pool, shape, layer, &q[t * q_dim], &places[t], 1, alone.data());
    REQUIRE(std::vector<float>(&together[t * q_dim], &together[t * q_dim] + q_dim) == alone);
  }
}
