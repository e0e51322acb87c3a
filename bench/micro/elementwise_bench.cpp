// The per-token vector operations: rms_norm over the embedding, silu_mul over the feed-forward
// width. One thread, as the engine calls them; bandwidth counts each byte read or written once.

#include "bench/micro/common.hpp"
#include "kernels/cpu/elementwise.hpp"

namespace troupe::micro {

namespace {

constexpr int64_t kEmbedding = 576;
constexpr int64_t kFeedForward = 1536;

void bench_rms_norm(benchmark::State& state) {
  const int64_t tokens = state.range(0);
  const std::vector<float> x = random_floats(tokens * kEmbedding);
  const std::vector<float> weight = random_floats(kEmbedding, 0.5f, 1.5f);
  std::vector<float> out(x.size());
  for (auto _ : state) {
    for (int64_t t = 0; t < tokens; ++t) {
      rms_norm(x.data() + t * kEmbedding, weight.data(), 1e-5f, kEmbedding,
               out.data() + t * kEmbedding);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  // x read and out written per token; the weight once (it stays in L1 after).
  set_bandwidth_counter(state, static_cast<double>((2 * tokens + 1) * kEmbedding * 4));
}

void bench_silu_mul(benchmark::State& state) {
  const int64_t tokens = state.range(0);
  // In place, so every call works on the last one's result. With up = 4 and gate < 0,
  // gate <- 4 gate sigmoid(gate) settles at -ln 3: no decay into denormals, no overflow.
  std::vector<float> gate = random_floats(tokens * kFeedForward, -3.0f, -0.1f);
  const std::vector<float> up(gate.size(), 4.0f);
  for (auto _ : state) {
    for (int64_t t = 0; t < tokens; ++t) {
      silu_mul(gate.data() + t * kFeedForward, up.data() + t * kFeedForward, kFeedForward);
    }
    benchmark::DoNotOptimize(gate.data());
    benchmark::ClobberMemory();
  }
  // gate read and written, up read.
  set_bandwidth_counter(state, static_cast<double>(3 * tokens * kFeedForward * 4));
}

}  // namespace

void register_elementwise_benchmarks() {
  benchmark::RegisterBenchmark("rms_norm/576", bench_rms_norm)
      ->ArgName("tokens")
      ->Arg(1)
      ->Arg(32)
      ->UseRealTime();
  benchmark::RegisterBenchmark("silu_mul/1536", bench_silu_mul)
      ->ArgName("tokens")
      ->Arg(1)
      ->Arg(32)
      ->UseRealTime();
}

}  // namespace troupe::micro
