#include "kernels/cpu/handover_latency.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <vector>

#include "kernels/cpu/cpu_relax.hpp"

namespace troupe {
namespace {

// Thread 0 writes odd values, thread 1 answers each with the next even one; -1 says thread 1 is
// there, so the clock starts with both threads running.
double one_pass_ns(ThreadPool& pool, int round_trips) {
  struct alignas(64) Line {
    std::atomic<int> value{0};
  } line;
  double seconds = 0;
  pool.run([&](int thread, int) {
    if (thread == 1) {
      line.value.store(-1, std::memory_order_release);
      for (int i = 0; i < round_trips; ++i) {
        while (line.value.load(std::memory_order_acquire) != 2 * i + 1) cpu_relax();
        line.value.store(2 * i + 2, std::memory_order_release);
      }
    } else if (thread == 0) {
      while (line.value.load(std::memory_order_acquire) != -1) cpu_relax();
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < round_trips; ++i) {
        line.value.store(2 * i + 1, std::memory_order_release);
        while (line.value.load(std::memory_order_acquire) != 2 * i + 2) cpu_relax();
      }
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
  });
  return seconds * 1e9 / round_trips;
}

}  // namespace

double handover_round_trip_ns(ThreadPool& pool, int round_trips) {
  if (pool.size() < 2 || round_trips < 1) return 0;
  std::vector<double> passes;
  for (int pass = 0; pass < 3; ++pass) passes.push_back(one_pass_ns(pool, round_trips));
  std::sort(passes.begin(), passes.end());
  return passes[1];
}

}  // namespace troupe
