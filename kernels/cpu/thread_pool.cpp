#include "kernels/cpu/thread_pool.hpp"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace troupe {
namespace {

// How long an idle worker spins before it sleeps: long enough to span the gaps between a step's
// regions (microseconds), short enough (about 60 us of pauses on a Zen 5, 150 on Sapphire
// Rapids) to free its core soon after a step, when a server's other threads need it to stream
// the token and schedule the next step. 2^16 spins, milliseconds, held a 2-core machine's
// second core through that: single-stream decode through HTTP was 5-13% slower.
constexpr int kSpinIterations = 1 << 12;

void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

void futex_wait(std::atomic<uint32_t>& word, uint32_t expected) {
  // Returns at once if the word no longer holds `expected`; spurious wake-ups are re-checked.
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr,
          nullptr, 0);
}

void futex_wake_all(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
          nullptr, 0);
}

// The CPUs this process may run on, in order.
std::vector<int> allowed_cpus() {
  cpu_set_t set;
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);  // best effort: unpinned if refused
}

}  // namespace

int ThreadPool::size_for(int threads) {
  return threads > 0 ? threads : std::max<int>(1, static_cast<int>(allowed_cpus().size()));
}

ThreadPool::ThreadPool(int threads, bool pin, int first_cpu) {
  const std::vector<int> cpus = allowed_cpus();
  const int available = std::max<int>(1, static_cast<int>(cpus.size()));
  size_ = size_for(threads);
  const bool pinned = pin && size_ > 1 && first_cpu >= 0 && first_cpu + size_ <= available;
  for (int i = 1; i < size_; ++i) {
    const int cpu = pinned ? cpus[static_cast<size_t>(first_cpu + i)] : -1;
    workers_.emplace_back([this, i, cpu] { worker_loop(i, cpu); });
  }
}

ThreadPool::~ThreadPool() {
  stopping_ = true;
  post();
  for (auto& w : workers_) w.join();
}

void ThreadPool::post() {
  generation_.fetch_add(1, std::memory_order_seq_cst);
  // Paired with the worker's sleepers_ increment then generation_ check: either it sees the new
  // generation and does not sleep, or this sees it counted and wakes it.
  if (sleepers_.load(std::memory_order_seq_cst) > 0) futex_wake_all(generation_);
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (size_ == 1) {
    fn(0, 1);
    return;
  }
  task_ = &fn;
  pending_.store(size_ - 1, std::memory_order_relaxed);
  post();  // its seq_cst increment publishes task_ and pending_
  fn(0, size_);
  while (pending_.load(std::memory_order_acquire) != 0) cpu_relax();
}

void ThreadPool::parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& fn) {
  if (count <= 0) return;
  // Chunks taken from a shared counter, a thread slowed by the machine's other load taking fewer;
  // each chunk is a share of what is left (guided scheduling), so the last ones are small and
  // the threads finish together instead of one waiting on the other's last large chunk.
  const int64_t divisor = int64_t{size_} * 2;
  std::atomic<int64_t> next{0};
  run([&](int, int) {
    int64_t begin = next.load(std::memory_order_relaxed);
    for (;;) {
      if (begin >= count) return;
      const int64_t end = begin + std::max<int64_t>(1, (count - begin) / divisor);
      if (!next.compare_exchange_weak(begin, end, std::memory_order_relaxed)) continue;
      fn(begin, end);
      begin = next.load(std::memory_order_relaxed);
    }
  });
}

void ThreadPool::worker_loop(int index, int cpu) {
  if (cpu >= 0) pin_to(cpu);
  uint32_t seen = 0;
  for (;;) {
    uint32_t now = generation_.load(std::memory_order_acquire);
    for (int i = 0; now == seen && i < kSpinIterations; ++i) {
      cpu_relax();
      now = generation_.load(std::memory_order_acquire);
    }
    while (now == seen) {
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      if (generation_.load(std::memory_order_seq_cst) == seen) futex_wait(generation_, seen);
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      now = generation_.load(std::memory_order_acquire);
    }
    seen = now;
    if (stopping_) return;
    (*task_)(index, size_);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace troupe
