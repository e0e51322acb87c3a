// The device's RoPE, KV store and paged attention against a reference in double over the same
// F16 keys and values: several sequences of different lengths in one batch, blocks scattered
// through the cache, GQA, at the default model's head size (64) and an 8B model's (128).
// RMSNorm, SwiGLU and the adds against their definitions. Run where a device is visible.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/cpu/half.hpp"
#include "kernels/cpu/rope.hpp"
#include "kernels/cuda/elementwise.hpp"
#include "kernels/cuda/paged_attention.hpp"
#include "tests/cuda/device_vectors.hpp"

using namespace troupe;

namespace {

struct Case {
  int heads, kv_heads, head_dim;
};

}  // namespace

TEST_CASE("CUDA paged attention equals softmax(q K^T) V over each token's positions") {
  if (!test::cuda_device_visible()) return;
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const Case c : {Case{9, 3, 64}, Case{32, 8, 128}}) {
    INFO(c.heads << " heads, " << c.kv_heads << " KV heads of " << c.head_dim);
    const int bs = 16, blocks = 64, kv_dim = c.kv_heads * c.head_dim;
    // Three sequences: a decode token at position 300, a prefill chunk of 20 tokens from 40, and
    // a first token; each with its blocks in a shuffled order.
    std::vector<int32_t> order(blocks);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    const std::vector<std::vector<int32_t>> tables = {{order.begin(), order.begin() + 19},
                                                      {order.begin() + 19, order.begin() + 23},
                                                      {order.begin() + 23, order.begin() + 24}};
    std::vector<int32_t> token_sequence, lengths;
    token_sequence.push_back(0), lengths.push_back(301);
    for (int i = 0; i < 20; ++i) token_sequence.push_back(1), lengths.push_back(41 + i);
    token_sequence.push_back(2), lengths.push_back(1);
    const int tokens = static_cast<int>(lengths.size());
    std::vector<int32_t> flat, table_start;
    std::vector<int32_t> starts;
    for (const auto& t : tables)
      starts.push_back(static_cast<int32_t>(flat.size())),
          flat.insert(flat.end(), t.begin(), t.end());
    for (int s : token_sequence) table_start.push_back(starts[static_cast<size_t>(s)]);
    // The cache, random halves everywhere.
    std::vector<uint16_t> keys(static_cast<size_t>(blocks * bs * kv_dim)), values(keys.size());
    for (auto& k : keys) k = float_to_half(normal(rng));
    for (auto& v : values) v = float_to_half(normal(rng));
    std::vector<float> q(static_cast<size_t>(tokens * c.heads * c.head_dim));
    for (auto& v : q) v = normal(rng);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));

    const auto d_keys = test::to_device(keys), d_values = test::to_device(values);
    const auto d_q = test::to_device(q);
    const auto d_flat = test::to_device(flat), d_start = test::to_device(table_start),
               d_lengths = test::to_device(lengths);
    std::vector<double> expected(q.size());
    for (int t = 0; t < tokens; ++t) {
      const auto& table = tables[static_cast<size_t>(token_sequence[static_cast<size_t>(t)])];
      for (int h = 0; h < c.heads; ++h) {
        const int kv = h / (c.heads / c.kv_heads);
        const float* qh = q.data() + (t * c.heads + h) * c.head_dim;
        std::vector<double> scores(static_cast<size_t>(lengths[static_cast<size_t>(t)]));
        for (size_t p = 0; p < scores.size(); ++p) {
          const int64_t slot = int64_t{table[p / bs]} * bs + static_cast<int64_t>(p % bs);
          double dot = 0;
          for (int i = 0; i < c.head_dim; ++i)
            dot += double(qh[i]) * half_to_float(keys[slot * kv_dim + kv * c.head_dim + i]);
          scores[p] = dot * scale;
        }
        const double max = *std::max_element(scores.begin(), scores.end());
        double sum = 0;
        for (auto& s : scores) sum += (s = std::exp(s - max));
        for (int i = 0; i < c.head_dim; ++i) {
          double value = 0;
          for (size_t p = 0; p < scores.size(); ++p) {
            const int64_t slot = int64_t{table[p / bs]} * bs + static_cast<int64_t>(p % bs);
            value += scores[p] / sum * half_to_float(values[slot * kv_dim + kv * c.head_dim + i]);
          }
          expected[static_cast<size_t>((t * c.heads + h) * c.head_dim + i)] = value;
        }
      }
    }
    // In one block per (token, head), and spread over 3 and 8 blocks (flash-decoding).
    for (const int splits : {1, 3, 8}) {
      INFO(splits << " splits");
      const cuda::DeviceAttentionShape shape{c.heads, c.kv_heads, c.head_dim, bs, scale};
      cuda::DeviceBuffer<float> d_out(q.size());
      cuda::DeviceBuffer<float> partials(
          static_cast<size_t>(cuda::attention_partial_floats(tokens, shape, splits)));
      cuda::paged_attention(nullptr, shape, d_q.data(),
                            {d_flat.data(), d_start.data(), d_lengths.data()}, tokens,
                            d_keys.data(), d_values.data(), d_out.data(), splits, partials.data());
      const auto out = test::to_host(d_out, q.size());
      double worst = 0;
      for (size_t i = 0; i < out.size(); ++i)
        worst = std::max(worst, std::fabs(out[i] - expected[i]));
      INFO("largest difference " << worst);
      CHECK(worst < 1e-4);
    }
  }
}

TEST_CASE("CUDA RoPE and the KV store write the host's rotated keys as halves at their slots") {
  if (!test::cuda_device_visible()) return;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const RopeStyle style : {RopeStyle::Normal, RopeStyle::NeoX}) {
    const int tokens = 5, kv_heads = 3, head_dim = 64, kv_dim = kv_heads * head_dim;
    RopeConfig config;
    config.style = style;
    config.rotary_dims = head_dim;
    config.freq_base = 100000.0f;
    const std::vector<int32_t> positions = {0, 7, 8, 300, 4095};
    RopeTable rope;
    rope.compute(config, positions.data(), tokens);
    std::vector<float> k(static_cast<size_t>(tokens * kv_dim)), v(k.size());
    for (auto& x : k) x = normal(rng);
    for (auto& x : v) x = normal(rng);
    std::vector<float> tables(rope.cosines().begin(), rope.cosines().end());
    tables.insert(tables.end(), rope.sines().begin(), rope.sines().end());
    const std::vector<int32_t> slots = {17, 3, 40, 0, 63};
    auto d_k = test::to_device(k);
    const auto d_v = test::to_device(v), d_tables = test::to_device(tables);
    const auto d_slots = test::to_device(slots);
    cuda::DeviceBuffer<uint16_t> d_keys(64 * kv_dim), d_values(64 * kv_dim);
    cuda::rotate(nullptr, d_k.data(), tokens, kv_heads, head_dim, kv_dim, style, head_dim,
                 d_tables.data(), d_tables.data() + tables.size() / 2);
    cuda::store_kv(nullptr, d_k.data(), d_v.data(), d_slots.data(), tokens, kv_dim, d_keys.data(),
                   d_values.data());
    const auto keys = test::to_host(d_keys, d_keys.size());
    const auto values = test::to_host(d_values, d_values.size());
    int bad = 0;
    for (int t = 0; t < tokens; ++t) {
      std::vector<float> rotated(static_cast<size_t>(kv_dim));
      for (int h = 0; h < kv_heads; ++h)
        rope.rotate_head(config, t, k.data() + t * kv_dim + h * head_dim, head_dim,
                         rotated.data() + h * head_dim);
      for (int i = 0; i < kv_dim; ++i) {
        const auto at = static_cast<size_t>(slots[static_cast<size_t>(t)] * kv_dim + i);
        bad += std::fabs(half_to_float(keys[at]) - rotated[static_cast<size_t>(i)]) > 2e-3f;
        bad += values[at] != float_to_half(v[static_cast<size_t>(t * kv_dim + i)]);
      }
    }
    CHECK(bad == 0);
  }
}

TEST_CASE("CUDA RMSNorm (of chosen rows), SwiGLU, bias and residual adds") {
  if (!test::cuda_device_visible()) return;
  std::mt19937 rng(9);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  const int tokens = 6, width = 576;
  std::vector<float> x(tokens * width), w(width), y(x.size()), bias(width);
  for (auto* v : {&x, &w, &y, &bias})
    for (auto& e : *v) e = normal(rng);
  const std::vector<int32_t> rows = {5, 0, 3};
  const auto d_x = test::to_device(x), d_w = test::to_device(w);
  const auto d_rows = test::to_device(rows);
  cuda::DeviceBuffer<float> d_out(x.size());
  cuda::rms_norm(nullptr, d_x.data(), d_rows.data(), 3, d_w.data(), 1e-5f, width, d_out.data());
  auto out = test::to_host(d_out, 3 * width);
  for (size_t r = 0; r < rows.size(); ++r) {
    const float* in = x.data() + rows[r] * width;
    double squares = 0;
    for (int i = 0; i < width; ++i) squares += double(in[i]) * in[i];
    const double scale = 1 / std::sqrt(squares / width + 1e-5);
    for (int i = 0; i < width; ++i)
      CHECK(out[r * width + i] == Approx(in[i] * scale * w[i]).margin(1e-5).epsilon(1e-5));
  }
  auto d_gate = test::to_device(x);
  const auto d_up = test::to_device(y), d_bias = test::to_device(bias);
  cuda::silu_mul(nullptr, d_gate.data(), d_up.data(), tokens * width);
  cuda::add_bias(nullptr, d_gate.data(), d_bias.data(), tokens, width);
  cuda::add_in_place(nullptr, d_gate.data(), d_up.data(), tokens * width);
  out = test::to_host(d_gate, x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double g = x[i], expected = g / (1 + std::exp(-g)) * y[i] + bias[i % width] + y[i];
    CHECK(out[i] == Approx(expected).margin(1e-4).epsilon(1e-5));
  }
}
