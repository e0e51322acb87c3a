// troupe-micro: the ceilings first, then every kernel benchmark beside them.
#include <benchmark/benchmark.h>

#include <cstdio>

#include "bench/micro/ceilings.hpp"
#include "bench/micro/common.hpp"

int main(int argc, char** argv) {
  using namespace troupe::micro;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  // Before any benchmark, on an idle machine: the kernels' ratios all divide by these.
  const Ceilings& c = measure_ceilings(bench_pool());
  // stderr, where Google Benchmark puts its own context: stdout stays pure JSON with
  // --benchmark_format=json.
  std::fprintf(stderr, "ceilings: read bandwidth %.1f GB/s, peak FMA %.1f GFLOP/s (%d threads)\n",
               c.bytes_per_second() / 1e9, c.flops_per_second() / 1e9, c.threads);

  register_ceiling_benchmarks();
  register_matmul_benchmarks();
  register_attention_benchmarks();
  register_quantize_benchmarks();
  register_elementwise_benchmarks();
  register_sampler_benchmarks();
  register_grammar_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
