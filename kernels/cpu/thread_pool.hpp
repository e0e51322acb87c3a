#pragma once
// A fixed team of threads that runs one parallel region at a time. The calling thread takes part
// as thread 0. Between regions, workers spin a while (a forward pass issues hundreds of short
// regions back to back) and then sleep on a futex, so an idle pool costs no CPU; a region wakes
// sleepers with one system call, and none when every worker is still spinning.
#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace troupe {

class ThreadPool {
 public:
  // `threads` counts the caller; 0 means every CPU this process may run on. With `pin`, worker i
  // stays on the (first_cpu + i)-th of those CPUs (when there are that many), so its cache stays
  // warm and two workers never share a core; the caller is left free. Pools that run at the same
  // time (the ranks of a tensor-parallel group) take disjoint CPUs through `first_cpu`.
  explicit ThreadPool(int threads = 0, bool pin = true, int first_cpu = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return size_; }
  // The size a pool asked for `threads` gets (0: every CPU this process may run on).
  static int size_for(int threads);

  // Runs fn(thread_index, size()) on every thread and returns when all are done.
  void run(const std::function<void(int, int)>& fn);

  // Splits [0, count) into contiguous chunks, fn(begin, end) for each: every thread works
  // through a home range of its own first, then takes what the others have left from the back.
  // count must be below 2^31.
  void parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void worker_loop(int index, int cpu);
  void post();  // publishes a new generation and wakes the sleepers

  int size_;
  std::vector<std::thread> workers_;
  const std::function<void(int, int)>* task_ = nullptr;
  std::atomic<uint32_t> generation_{0};  // the futex word: bumped once per region
  std::atomic<int> sleepers_{0};         // workers inside (or entering) a futex wait
  std::atomic<int> pending_{0};          // workers still running the current region
  std::atomic<bool> stopping_{false};
  // parallel_for's unclaimed [front, back) of each thread's home range, packed: a line each.
  struct alignas(64) HomeRange {
    std::atomic<uint64_t> bounds{0};
  };
  std::vector<HomeRange> homes_;
};

}  // namespace troupe
