// quantize_activations: every matmul input (576 floats a token here) becomes 8-bit blocks first.
#include "bench/micro/common.hpp"
#include "kernels/cpu/vec_dot.hpp"

namespace troupe::micro {

namespace {

constexpr int64_t kEmbedding = 576;

void bench_quantize(benchmark::State& state) {
  const int64_t tokens = state.range(0);
  const std::vector<float> x = random_floats(tokens * kEmbedding);
  std::vector<ActivationBlock> out(static_cast<size_t>(tokens * kEmbedding / kQK));
  for (auto _ : state) {
    for (int64_t t = 0; t < tokens; ++t) {
      quantize_activations(x.data() + t * kEmbedding, out.data() + t * kEmbedding / kQK,
                           kEmbedding);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  // Floats read, blocks written.
  set_bandwidth_counter(
      state, static_cast<double>(x.size() * sizeof(float) + out.size() * sizeof(ActivationBlock)));
}

}  // namespace

void register_quantize_benchmarks() {
  benchmark::RegisterBenchmark("quantize_activations/576", bench_quantize)
      ->ArgName("tokens")
      ->Arg(1)
      ->Arg(8)
      ->Arg(32)
      ->Arg(128)
      ->UseRealTime();
}

}  // namespace troupe::micro
