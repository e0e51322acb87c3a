#include "bench/micro/ceilings.hpp"

#include <benchmark/benchmark.h>
#if defined(__AVX512F__) || defined(__AVX2__) || defined(__FMA__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <span>
#include <tuple>
#include <utility>

#include "kernels/cpu/huge_page_arena.hpp"
#include "kernels/cpu/stream_read.hpp"

namespace troupe::micro {

namespace {

Ceilings measured;

// Far larger than any last-level cache here, so every pass comes from DRAM.
constexpr size_t kReadBytes = size_t{512} << 20;
constexpr int kReadPasses = 5;  // per way of reading
// Per thread and pass: 12 accumulators x 2^23 steps, tens of milliseconds.
constexpr int kFmaAccumulators = 12;
constexpr int64_t kFmaSteps = int64_t{1} << 23;
constexpr int kFmaPasses = 4;

double seconds_of(ThreadPool& pool, const std::function<void(int, int)>& fn) {
  const auto start = std::chrono::steady_clock::now();
  pool.run(fn);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Independent FMA chains, enough to cover the FMA latency on both ports. x = x * a + b converges
// to b / (1 - a), so no value overflows or turns denormal however long it runs.
double fma_chains() {
#if defined(__AVX512F__)
  constexpr int kLanes = 16;
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
  __m512 acc[kFmaAccumulators];
  for (int k = 0; k < kFmaAccumulators; ++k) acc[k] = _mm512_set1_ps(static_cast<float>(k));
  for (int64_t s = 0; s < kFmaSteps; ++s) {
    for (int k = 0; k < kFmaAccumulators; ++k) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
  }
  for (int k = 1; k < kFmaAccumulators; ++k) acc[0] = _mm512_add_ps(acc[0], acc[k]);
  alignas(64) float lanes[kLanes];
  _mm512_store_ps(lanes, acc[0]);
  float sink = 0;
  for (float v : lanes) sink += v;
  benchmark::DoNotOptimize(sink);
#elif defined(__FMA__)
  constexpr int kLanes = 8;
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.001f);
  __m256 acc[kFmaAccumulators];
  for (int k = 0; k < kFmaAccumulators; ++k) acc[k] = _mm256_set1_ps(static_cast<float>(k));
  for (int64_t s = 0; s < kFmaSteps; ++s) {
    for (int k = 0; k < kFmaAccumulators; ++k) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
  }
  for (int k = 1; k < kFmaAccumulators; ++k) acc[0] = _mm256_add_ps(acc[0], acc[k]);
  alignas(32) float lanes[kLanes];
  _mm256_store_ps(lanes, acc[0]);
  float sink = 0;
  for (float v : lanes) sink += v;
  benchmark::DoNotOptimize(sink);
#else
  constexpr int kLanes = 1;
  float acc[kFmaAccumulators];
  for (int k = 0; k < kFmaAccumulators; ++k) acc[k] = static_cast<float>(k);
  for (int64_t s = 0; s < kFmaSteps; ++s) {
    for (int k = 0; k < kFmaAccumulators; ++k) acc[k] = acc[k] * 0.999f + 0.001f;
  }
  for (int k = 1; k < kFmaAccumulators; ++k) acc[0] += acc[k];
  benchmark::DoNotOptimize(acc[0]);
#endif
  return 2.0 * kLanes * kFmaAccumulators * static_cast<double>(kFmaSteps);
}

// Independent vpdpbusd chains, 16 of them (enough to cover its latency on every port that runs
// it), register operands. Each 32-bit lane adds 4 products of a byte pair; integer sums wrap
// harmlessly. Every chain starts from its own value and every operand goes through an empty asm
// statement: with constant operands and equal starts GCC kept 2 of the 16 chains and the "peak"
// it timed (1.85 T MAC/s on 2 Zen 5 cores) was several times what the instruction runs at.
double vnni_chains() {
#if defined(__AVX512VNNI__)
  constexpr int kChains = 16;
  __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(2);
  // Named, not an array: GCC kept an array's chains shuffling between registers each step.
  __m512i c0 = _mm512_set1_epi32(0), c1 = _mm512_set1_epi32(1), c2 = _mm512_set1_epi32(2);
  __m512i c3 = _mm512_set1_epi32(3), c4 = _mm512_set1_epi32(4), c5 = _mm512_set1_epi32(5);
  __m512i c6 = _mm512_set1_epi32(6), c7 = _mm512_set1_epi32(7), c8 = _mm512_set1_epi32(8);
  __m512i c9 = _mm512_set1_epi32(9), c10 = _mm512_set1_epi32(10), c11 = _mm512_set1_epi32(11);
  __m512i c12 = _mm512_set1_epi32(12), c13 = _mm512_set1_epi32(13);
  __m512i c14 = _mm512_set1_epi32(14), c15 = _mm512_set1_epi32(15);
  // (Two statements: an asm takes at most 30 operands, and "+" counts twice.)
  asm volatile(""
               : "+v"(a), "+v"(b), "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5),
                 "+v"(c6), "+v"(c7));
  asm volatile(""
               : "+v"(c8), "+v"(c9), "+v"(c10), "+v"(c11), "+v"(c12), "+v"(c13), "+v"(c14),
                 "+v"(c15));
  for (int64_t s = 0; s < kFmaSteps; ++s) {
    for (__m512i* c :
         {&c0, &c1, &c2, &c3, &c4, &c5, &c6, &c7, &c8, &c9, &c10, &c11, &c12, &c13, &c14, &c15}) {
      *c = _mm512_dpbusd_epi32(*c, a, b);
    }
  }
  __m512i sum = c0;
  for (__m512i c : {c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15}) {
    sum = _mm512_add_epi32(sum, c);
  }
  alignas(64) int32_t lanes[16];
  _mm512_store_si512(lanes, sum);
  benchmark::DoNotOptimize(lanes);
  return 64.0 * kChains * static_cast<double>(kFmaSteps);
#else
  return 0;
#endif
}

// The best rate of several ways of reading: hardware prefetching alone, and software prefetches
// at distances around the decode kernels' (cpu_features.hpp), on huge pages as the weights are
// (huge_page_arena.hpp). A kernel that read faster than this "ceiling" would show it was none.
// Each way's rate is the median of its passes, not its luckiest one: on a shared machine the
// neighbours make single passes swing (43 to 78 GB/s seen on one 2-core EPYC in an hour).
void measure_read_bandwidth(ThreadPool& pool) {
  HugePageArena arena(kReadBytes);
  std::byte* data = arena.take(kReadBytes);
  const std::span<const std::byte> buffer[] = {{data, kReadBytes}};
  // First touch by the threads that will read it (stream_read's shares), so the pages exist.
  pool.run([&](int thread, int threads) {
    const size_t begin = kReadBytes * static_cast<size_t>(thread) / static_cast<size_t>(threads);
    const size_t end = kReadBytes * static_cast<size_t>(thread + 1) / static_cast<size_t>(threads);
    std::fill(data + begin, data + end, std::byte{1});
  });
  double best = 1e30;
  for (const size_t prefetch : {size_t{0}, size_t{1536}, size_t{4096}, size_t{8192}}) {
    std::array<double, kReadPasses> passes{};
    for (double& seconds : passes) seconds = stream_read_seconds(pool, buffer, prefetch);
    std::nth_element(passes.begin(), passes.begin() + kReadPasses / 2, passes.end());
    best = std::min(best, passes[kReadPasses / 2]);
  }
  measured.read_bytes = static_cast<double>(kReadBytes);
  measured.read_seconds = best;
}

// The best of kFmaPasses runs of `chains` on every thread: what one pass did on all threads
// together (flops or multiply-adds), and its seconds.
std::pair<double, double> best_pass(ThreadPool& pool, double (*chains)()) {
  double per_thread = 0, best = 1e30;
  for (int pass = 0; pass < kFmaPasses; ++pass) {
    best = std::min(best, seconds_of(pool, [&](int thread, int) {
                      const double done = chains();
                      if (thread == 0) per_thread = done;
                    }));
  }
  return {per_thread * pool.size(), best};
}

}  // namespace

const Ceilings& measure_ceilings(ThreadPool& pool) {
  measured.threads = pool.size();
  measure_read_bandwidth(pool);
  std::tie(measured.fma_flops, measured.fma_seconds) = best_pass(pool, fma_chains);
  std::tie(measured.vnni_macs, measured.vnni_seconds) = best_pass(pool, vnni_chains);
  return measured;
}

const Ceilings& ceilings() {
  return measured;
}

namespace {

void bench_read_bandwidth(benchmark::State& state) {
  for (auto _ : state) state.SetIterationTime(measured.read_seconds);
  const double bytes = measured.read_bytes * static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));  // JSON bytes_per_second
  // The console prints bytes_per_second in binary units; GB/s as the kernel rows show it.
  state.counters["GB/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsRate);
  state.counters["threads"] = measured.threads;
}

void bench_fma_peak(benchmark::State& state) {
  for (auto _ : state) state.SetIterationTime(measured.fma_seconds);
  state.counters["FLOPS"] = benchmark::Counter(
      measured.fma_flops * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["threads"] = measured.threads;
}

void bench_vnni_peak(benchmark::State& state) {
  for (auto _ : state) state.SetIterationTime(measured.vnni_seconds);
  state.counters["MACS"] = benchmark::Counter(
      measured.vnni_macs * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["threads"] = measured.threads;
}

}  // namespace

void register_ceiling_benchmarks() {
  // These replay the start-up measurement (its best pass as each iteration's manual time) rather
  // than take a second sample: every of_bw and of_fma in the table divides by exactly the
  // figures these rows show.
  benchmark::RegisterBenchmark("ceiling/read_bandwidth", bench_read_bandwidth)->UseManualTime();
  benchmark::RegisterBenchmark("ceiling/fma_peak", bench_fma_peak)->UseManualTime();
  if (measured.vnni_macs > 0) {
    benchmark::RegisterBenchmark("ceiling/vnni_peak", bench_vnni_peak)->UseManualTime();
  }
}

}  // namespace troupe::micro
