#include "kernels/cpu/thread_pool.hpp"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <stdexcept>

#include "kernels/cpu/cpu_relax.hpp"

namespace troupe {
namespace {

// The most bytes a worker reads ahead: half a Zen 4 core's L2, so that what it reads stays
// there until its region comes.
constexpr int64_t kReadAheadBytes = int64_t{512} * 1024;

// How long an idle worker spins before it sleeps: long enough to span the gaps between a step's
// regions (microseconds), short enough (about 60 us of pauses on a Zen 5, 150 on Sapphire
// Rapids) to free its core soon after a step, when a server's other threads need it to stream
// the token and schedule the next step. 2^16 spins, milliseconds, held a 2-core machine's
// second core through that: single-stream decode through HTTP was 5-13% slower.
constexpr int kSpinIterations = 1 << 12;

// Reads `spans` in order into this thread's cache, up to kReadAheadBytes, until `stop()`, looked
// at every 512 bytes. A load a line: the hardware prefetchers stream the rest.
template <typename Stop>
void read_until(std::span<const std::span<const std::byte>> spans, const Stop& stop) {
  int64_t budget = kReadAheadBytes;
  uint64_t folded = 0;
  for (const std::span<const std::byte> bytes : spans) {
    for (size_t at = 0; at < bytes.size() && budget > 0; at += 512, budget -= 512) {
      if (stop()) break;
      for (size_t line = at; line < std::min(bytes.size(), at + 512); line += 64) {
        uint64_t word;
        std::memcpy(&word, bytes.data() + line, sizeof word);
        folded ^= word;
      }
    }
  }
  asm volatile("" : : "r"(folded));  // the reads stay
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
  homes_ = std::vector<HomeRange>(static_cast<size_t>(size_));
  const bool pinned = pin && size_ > 1 && first_cpu >= 0 && first_cpu + size_ <= available;
  for (int i = 1; i < size_; ++i) {
    const int cpu = pinned ? cpus[static_cast<size_t>(first_cpu + i)] : -1;
    workers_.emplace_back([this, i, cpu] { worker_loop(i, cpu); });
  }
}

ThreadPool::~ThreadPool() {
  region_.stopping = true;
  region_.generation.fetch_add(1, std::memory_order_seq_cst);
  // Paired with the worker's sleepers increment then generation check: either it sees the new
  // generation and does not sleep, or this sees it counted and wakes it.
  if (region_.sleepers.load(std::memory_order_seq_cst) > 0) futex_wake_all(region_.generation);
  for (auto& w : workers_) w.join();
}

void ThreadPool::post() {
  // A plain store, which the caller does not wait for: it goes on to its own share while the
  // line travels (a locked increment waited for the workers' copies to be dropped first, 0.4 us
  // across CCDs). Without a fence a worker going to sleep right now may miss it and this may
  // miss the worker: wait_for_workers() wakes it then.
  region_.generation.store(region_.generation.load(std::memory_order_relaxed) + 1,
                           std::memory_order_release);
  if (region_.sleepers.load(std::memory_order_relaxed) > 0) futex_wake_all(region_.generation);
}

void ThreadPool::wait_for_workers() {
  while (pending_.load(std::memory_order_acquire) != 0) {
    // A worker counted asleep now went to sleep before it could see the region (post()).
    if (region_.sleepers.load(std::memory_order_relaxed) > 0) futex_wake_all(region_.generation);
    cpu_relax();
  }
  ahead_free_ = true;
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (size_ == 1) {
    fn(0, 1);
    return;
  }
  region_.task = &fn;
  pending_.store(size_ - 1, std::memory_order_relaxed);
  post();  // its release store publishes the region and pending_
  fn(0, size_);
  wait_for_workers();
}

void ThreadPool::arrive_and_wait() {
  arrive_and_wait({});
}

void ThreadPool::arrive_and_wait(std::span<const std::span<const std::byte>> ahead) {
  if (size_ == 1) return;
  // The phase read before arriving: the last to arrive moves it only after this thread has.
  const uint32_t phase = barrier_phase_.load(std::memory_order_acquire);
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) == size_ - 1) {
    arrived_.store(0, std::memory_order_relaxed);
    barrier_phase_.store(phase + 1, std::memory_order_release);
    return;
  }
  const auto arrived = [&] { return barrier_phase_.load(std::memory_order_acquire) != phase; };
  read_until(ahead, arrived);
  while (!arrived()) cpu_relax();
}

void ThreadPool::read_ahead(std::span<const ItemBytes> parts) {
  if (size_ == 1 || !ahead_free_ || parts.size() > kMostReadAheadParts) return;
  std::copy(parts.begin(), parts.end(), ahead_parts_);
  ahead_count_ = static_cast<int>(parts.size());
  ahead_free_ = false;
  ahead_seq_.store(ahead_seq_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

void ThreadPool::read_home_ahead(int index, uint32_t generation) {
  int64_t count = 0;
  for (int p = 0; p < ahead_count_; ++p) count += ahead_parts_[p].items;
  // parallel_for's home range of this worker, as each part's bytes, until a region comes.
  const int64_t begin = home_start(count, index), end = home_start(count, index + 1);
  std::span<const std::byte> home[kMostReadAheadParts];
  int64_t first = 0;  // the part's first item, counted over all parts
  for (int p = 0; p < ahead_count_; first += ahead_parts_[p].items, ++p) {
    const ItemBytes& part = ahead_parts_[p];
    const int64_t from = std::clamp(begin - first, int64_t{0}, part.items);
    const int64_t to = std::clamp(end - first, int64_t{0}, part.items);
    home[p] = {part.first + from * part.bytes_per_item,
               static_cast<size_t>((to - from) * part.bytes_per_item)};
  }
  read_until(std::span(home, static_cast<size_t>(ahead_count_)),
             [&] { return region_.generation.load(std::memory_order_relaxed) != generation; });
}

namespace {

// A home range's unclaimed [front, back), packed in one word so that its owner (from the front)
// and a thief (from the back) claim with one compare-and-swap each.
uint64_t pack(int64_t front, int64_t back) {
  return static_cast<uint64_t>(front) | static_cast<uint64_t>(back) << 32;
}
int64_t front_of(uint64_t bounds) {
  return static_cast<int64_t>(bounds & 0xffffffffu);
}
int64_t back_of(uint64_t bounds) {
  return static_cast<int64_t>(bounds >> 32);
}

// Claims a quarter of what is left of `bounds` (at least 1) from the front, or, as a thief, half
// of it from the back; false once it is empty. `seen`: what `bounds` likely holds (a wrong guess
// costs one more try).
bool claim(std::atomic<uint64_t>& bounds, uint64_t seen, bool from_front, int64_t& begin,
           int64_t& end) {
  for (;;) {
    const int64_t front = front_of(seen), back = back_of(seen);
    if (front >= back) return false;
    const int64_t left = back - front;
    if (from_front) {
      begin = front;
      end = front + std::max<int64_t>(1, left / 4);
    } else {
      begin = back - (left + 1) / 2;
      end = back;
    }
    const uint64_t rest = from_front ? pack(end, back) : pack(front, begin);
    if (bounds.compare_exchange_weak(seen, rest, std::memory_order_relaxed)) return true;
  }
}

}  // namespace

void ThreadPool::parallel_ranges(int64_t count, const void* fn, RangeCall call) {
  if (count <= 0) return;
  if (count > INT32_MAX) throw std::length_error("ThreadPool::parallel_for: over 2^31 - 1 items");
  // Each thread first works through a contiguous home range, front to back, so that a product
  // that reads each weight once streams one run of memory per thread (its prefetches ahead stay
  // in its own range); a thread done with its own then takes halves of what the others have
  // left, from the back, so that one slowed by the machine's other load does not hold the rest
  // up. Against chunks of a shared counter (a quarter of what was left, to every thread in turn):
  // single-stream decode 6-13% faster on a 2-core Zen 4 EPYC (3 alternating pairs), where each
  // thread restarted its prefetch stream at every chunk.
  if (size_ == 1) return call(fn, 0, count);
  // Between regions nothing else touches the home ranges or the region: plain stores, and the
  // caller's first chunk taken by leaving it out of its home, so that no locked instruction waits
  // for these stores to reach the workers before the caller starts on it.
  const int64_t own_back = home_start(count, 1);
  const int64_t first_end = std::max<int64_t>(1, own_back / 4);
  const bool first_chunk = own_back > 0;
  homes_[0].bounds.store(pack(first_chunk ? first_end : 0, own_back), std::memory_order_relaxed);
  for (int t = 1; t < size_; ++t) {
    homes_[static_cast<size_t>(t)].bounds.store(
        pack(home_start(count, t), home_start(count, t + 1)), std::memory_order_relaxed);
  }
  region_.task = nullptr;
  region_.range_fn = fn;
  region_.range_call = call;
  region_.range_count = count;
  pending_.store(size_ - 1, std::memory_order_relaxed);
  post();  // its release store publishes the region, the home ranges and pending_
  if (first_chunk) call(fn, 0, first_end);
  claim_ranges(0, pack(first_chunk ? first_end : 0, own_back));
  wait_for_workers();
}

void ThreadPool::claim_ranges(int thread, uint64_t own_home) {
  auto& mine = homes_[static_cast<size_t>(thread)].bounds;
  // Its own home as the caller left it, likely, so the first claim is one compare-and-swap
  // without a load before it: a worker's first line from the caller is not fetched twice.
  uint64_t seen = own_home;
  int64_t begin = 0, end = 0;
  for (;;) {
    while (claim(mine, seen, true, begin, end)) {
      region_.range_call(region_.range_fn, begin, end);
      seen = mine.load(std::memory_order_relaxed);
    }
    // Half of another's rest, from the back, becomes this thread's home: claimed from the front
    // a quarter at a time, and open to the others in turn, so that the threads finish within an
    // item of each other however uneven the items (a prompt's attention pieces, a long prompt's
    // row groups), where a stolen half run whole could keep one thread busy long after the rest.
    if (!steal_half(thread, begin, end)) return;
    seen = pack(begin, end);
    mine.store(seen, std::memory_order_relaxed);
  }
}

bool ThreadPool::steal_half(int thread, int64_t& begin, int64_t& end) {
  for (int k = 1; k < size_; ++k) {
    auto& other = homes_[static_cast<size_t>((thread + k) % size_)].bounds;
    if (claim(other, other.load(std::memory_order_relaxed), false, begin, end)) return true;
  }
  return false;
}

void ThreadPool::worker_loop(int index, int cpu) {
  if (cpu >= 0) pin_to(cpu);
  uint32_t seen = 0, ahead_seen = 0;
  for (;;) {
    uint32_t now = region_.generation.load(std::memory_order_acquire);
    for (int i = 0; now == seen && i < kSpinIterations; ++i) {
      const uint32_t ahead = ahead_seq_.load(std::memory_order_acquire);
      if (ahead != ahead_seen) {
        ahead_seen = ahead;
        read_home_ahead(index, seen);
      }
      cpu_relax();
      now = region_.generation.load(std::memory_order_acquire);
    }
    while (now == seen) {
      region_.sleepers.fetch_add(1, std::memory_order_seq_cst);
      if (region_.generation.load(std::memory_order_seq_cst) == seen)
        futex_wait(region_.generation, seen);
      region_.sleepers.fetch_sub(1, std::memory_order_relaxed);
      now = region_.generation.load(std::memory_order_acquire);
    }
    seen = now;
    if (region_.stopping) return;
    // A read-ahead posted before this region is past: the caller may write the next one's parts
    // once the region is done.
    ahead_seen = ahead_seq_.load(std::memory_order_relaxed);
    if (region_.task) {
      (*region_.task)(index, size_);
    } else {
      const int64_t count = region_.range_count;
      claim_ranges(index, pack(home_start(count, index), home_start(count, index + 1)));
    }
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace troupe
