#pragma once
// Faults a reserved memory range in, in the background: a thread at the idle scheduling class
// asks the kernel (MADV_POPULATE_WRITE) for its pages 2 MiB at a time, so that no later step
// pays the page faults and zeroing of its first touch. The KV cache is reserved whole and up
// front, as vLLM reserves its KV cache, but faulting 1 GiB in took 1.5 s on a KVM guest: done
// at startup it would delay every start, done at first touch it costs steps 5% (a prompt's new
// blocks zeroed inside the step that first writes them; 13% on huge pages). Faulting in never
// changes what a page holds, so the steps may write the range meanwhile.
#include <atomic>
#include <cstddef>
#include <thread>

namespace troupe {

class PagePopulator {
 public:
  PagePopulator(std::byte* base, size_t bytes);
  ~PagePopulator();  // stops at the next 2 MiB step
  PagePopulator(const PagePopulator&) = delete;
  PagePopulator& operator=(const PagePopulator&) = delete;

  // Blocks until the whole range is faulted in (or the kernel cannot: before Linux 5.14).
  void wait();

 private:
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace troupe
