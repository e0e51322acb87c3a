#pragma once
// What every micro-benchmark file shares: one thread pool, seeded random inputs, wall-clock
// timing and the counters that put a kernel beside the machine's ceilings.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cpu/thread_pool.hpp"

namespace troupe::micro {

// Every hardware thread, as the engine runs; one pool so no benchmark pays for starting threads.
ThreadPool& bench_pool();

// Seeded once: every run measures the same inputs.
std::mt19937& rng();
std::vector<float> random_floats(int64_t n, float lo = -1.0f, float hi = 1.0f);

// Runs `call` once per iteration, timing each with the wall clock: the pool's threads share the
// work, and wall time is what a forward pass waits for, not the calling thread's CPU time.
// Register with UseManualTime(). Returns the total seconds, the time rates are divided by.
template <class Call>
double timed_loop(benchmark::State& state, Call&& call) {
  double total = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    call();
    benchmark::ClobberMemory();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(seconds);
    total += seconds;
  }
  return total;
}

// GB/s and GFLOP/s as rates, of_bw and of_fma as plain fractions of the measured ceilings.
void set_kernel_counters(benchmark::State& state, double bytes_per_call, double flops_per_call,
                         double seconds);

// GB/s of bytes touched, for the single-threaded kernels that have no ceiling ratio.
void set_bandwidth_counter(benchmark::State& state, double bytes_per_call);

// Each file registers its benchmarks from main, so they run in a fixed order after the ceilings.
void register_matmul_benchmarks();
void register_attention_benchmarks();
void register_elementwise_benchmarks();
void register_sampler_benchmarks();
void register_grammar_benchmarks();
void register_quantize_benchmarks();

}  // namespace troupe::micro
