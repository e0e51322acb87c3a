#pragma once
// Faults a reserved memory range in, in the background: a thread at the idle scheduling class
// writes to each of its pages, 2 MiB at a time, so that no later step pays the page faults and
// zeroing of its first touch. The KV cache is reserved whole and up front, as vLLM reserves its
// KV cache, but faulting 1 GiB in took 1.5 s on a KVM guest: done at startup it would delay
// every start, done at first touch it costs steps 5% (a prompt's new blocks zeroed inside the
// step that first writes them; 13% on huge pages).
//
// The write is an atomic add of 0: a page keeps what it holds even where a step writes the same
// word meanwhile. It faults under the range's own lock (Linux 6.4 on), where the
// madvise(MADV_POPULATE_WRITE) used before holds the process's mmap lock: preempted at the idle
// class, that held up the engine threads' mmaps and every fault queued behind them. And the
// range may be `stripes` equal parts used alike (the KV cache: each layer's keys, then its
// values, all indexed by the block ids handed out from 0 up): then each part's first 2 MiB go
// first, then each part's second, and so on, so that the first requests' blocks are in memory
// soonest (in address order, the last layers' came after nearly all of 1 GiB). A server's first
// request, a 16-token prompt sent as it started listening (2-core Zen 4 EPYC, alternating
// starts): madvise in address order 28-1632 ms (median ~160, 9 starts), writes in address
// order 15-309 (median 156, 5), writes part by part 9-118 (median 13, 9); with no populator
// 16-80, and 8 once warm.
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace troupe {

// The offsets of the 2 MiB steps of a range of `bytes` in `stripes` equal parts, in the order the
// populator faults them in: each part's first step, then each part's second, ...; every step
// once.
std::vector<size_t> population_order(size_t bytes, int stripes);

class PagePopulator {
 public:
  // `base` on a page (an arena's memory is); std::invalid_argument if not.
  PagePopulator(std::byte* base, size_t bytes, int stripes = 1);
  ~PagePopulator();  // stops at the next 2 MiB step
  PagePopulator(const PagePopulator&) = delete;
  PagePopulator& operator=(const PagePopulator&) = delete;

  // Blocks until the whole range is faulted in.
  void wait();

 private:
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace troupe
