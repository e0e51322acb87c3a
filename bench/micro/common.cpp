#include "bench/micro/common.hpp"

#include "bench/micro/ceilings.hpp"

namespace troupe::micro {

ThreadPool& bench_pool() {
  static ThreadPool pool(0);
  return pool;
}

std::mt19937& rng() {
  static std::mt19937 engine(20261124);
  return engine;
}

std::vector<float> random_floats(int64_t n, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng());
  return v;
}

void set_kernel_counters(benchmark::State& state, double bytes_per_call, double flops_per_call,
                         double seconds) {
  const double calls = static_cast<double>(state.iterations());
  // Rates: Google Benchmark divides by the (manual) time, the console shows e.g. "21.7G/s".
  state.counters["GB/s"] = benchmark::Counter(bytes_per_call * calls, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_call * calls, benchmark::Counter::kIsRate);
  if (seconds <= 0) return;
  // Fractions of the ceilings: above 1 for of_bw means the data came from a cache, not DRAM.
  state.counters["of_bw"] = bytes_per_call * calls / seconds / ceilings().bytes_per_second();
  state.counters["of_fma"] = flops_per_call * calls / seconds / ceilings().flops_per_second();
}

void set_bandwidth_counter(benchmark::State& state, double bytes_per_call) {
  state.counters["GB/s"] = benchmark::Counter(
      bytes_per_call * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace troupe::micro
