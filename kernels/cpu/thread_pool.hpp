#pragma once
// A fixed team of threads that runs one parallel region at a time. The calling thread takes part
// as thread 0. Between regions, workers spin a while (a forward pass issues hundreds of short
// regions back to back) and then sleep on a futex, so an idle pool costs no CPU; a region wakes
// sleepers with one system call, and none when every worker is still spinning.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
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

  // Inside run()'s function only, called by every thread of the region: returns once all have
  // called it (a barrier), with what each wrote before it visible to all after it.
  void arrive_and_wait();
  // The same, and while the others have yet to arrive, reads `ahead` into this thread's cache in
  // order (up to half an L2), stopping when the last arrives: what the thread reads next, so that
  // its share of the memory bandwidth does not idle while it waits.
  void arrive_and_wait(std::span<const std::span<const std::byte>> ahead);

  // Splits [0, count) into contiguous chunks, fn(begin, end) for each: every thread works
  // through a home range of its own first, then takes what the others have left from the back.
  // count must be below 2^31. fn is called where it is, through a plain function pointer (no
  // std::function, which would copy a larger closure to the heap): each line a worker reads to
  // start is one more cache-to-cache transfer, a few hundred ns across CCDs.
  template <typename Fn>
  void parallel_for(int64_t count, const Fn& fn) {
    parallel_ranges(count, &fn, [](const void* f, int64_t begin, int64_t end) {
      (*static_cast<const Fn*>(f))(begin, end);
    });
  }

  // The items of a parallel_for to come, as bytes: `items` of `bytes_per_item` each from `first`.
  struct ItemBytes {
    const std::byte* first = nullptr;
    int64_t bytes_per_item = 0;
    int64_t items = 0;
  };
  static constexpr int kMostReadAheadParts = 4;
  // Until the next region, each spinning worker reads into its cache what its home range of a
  // parallel_for over these items (in order) will read, up to half an L2, while the caller goes
  // on alone: the serial work between a decode step's products, over which a worker's share of
  // the memory bandwidth would idle. A hint: dropped where a worker sleeps, or where no region
  // has run since the last one. The bytes must stay readable until the next region has begun
  // (a parallel_for of no items is none).
  void read_ahead(std::span<const ItemBytes> parts);

 private:
  using RangeCall = void (*)(const void* fn, int64_t begin, int64_t end);
  void parallel_ranges(int64_t count, const void* fn, RangeCall call);
  // Where thread `thread`'s home range of a parallel_for over `count` items starts (its end is
  // where thread + 1's starts): one split for the claims and for read_ahead.
  int64_t home_start(int64_t count, int thread) const { return count * thread / size_; }
  // Thread `thread`'s part of parallel_for: its home range (likely `own_home`, packed), then
  // halves of what is left of the others', each its home in turn.
  void claim_ranges(int thread, uint64_t own_home);
  // Half of the first other thread's unclaimed rest that has any, from the back, into
  // [begin, end); false when every other home is empty.
  bool steal_half(int thread, int64_t& begin, int64_t& end);
  void worker_loop(int index, int cpu);
  void post();  // publishes a new generation and wakes the sleepers
  // Until every worker is done with the region; wakes any that slept through its post().
  void wait_for_workers();
  // Worker `index`'s share of the read-ahead, stopped where a region comes (`generation` moves).
  void read_home_ahead(int index, uint32_t generation);

  int size_;
  std::vector<std::thread> workers_;
  // The current region, in the line a spinning worker reads when the generation moves: run()'s
  // task, or (task null) parallel_for's function and count.
  struct alignas(64) Region {
    const std::function<void(int, int)>* task = nullptr;
    const void* range_fn = nullptr;
    RangeCall range_call = nullptr;
    int64_t range_count = 0;
    std::atomic<uint32_t> generation{0};  // the futex word: bumped once per region
    std::atomic<int> sleepers{0};         // workers inside (or entering) a futex wait
    std::atomic<bool> stopping{false};
  };
  Region region_;
  alignas(64) std::atomic<int> pending_{0};  // workers still running the current region
  alignas(64) std::atomic<int> arrived_{0};  // arrive_and_wait's threads so far
  alignas(64) std::atomic<uint32_t> barrier_phase_{0};
  // parallel_for's unclaimed [front, back) of each thread's home range, packed: a line each.
  struct alignas(64) HomeRange {
    std::atomic<uint64_t> bounds{0};
  };
  std::vector<HomeRange> homes_;
  // read_ahead's parts, written by the caller only once every worker has left the last ones (a
  // region has run since), then published by ahead_seq_.
  ItemBytes ahead_parts_[kMostReadAheadParts];
  int ahead_count_ = 0;
  bool ahead_free_ = true;  // the caller's: a region has run since the last read_ahead
  alignas(64) std::atomic<uint32_t> ahead_seq_{0};
};

}  // namespace troupe
