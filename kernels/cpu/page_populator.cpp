#include "kernels/cpu/page_populator.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>

#include <algorithm>

namespace troupe {
namespace {

constexpr size_t kStep = size_t{2} << 20;  // a huge page: one fault each where the range has them

}  // namespace

PagePopulator::PagePopulator(std::byte* base, size_t bytes) {
  thread_ = std::thread([this, base, bytes] {
    // Only when nothing else wants the CPU: a step that needs a page first faults it itself.
    const sched_param idle{};
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle);
    for (size_t at = 0; at < bytes && !stopping_.load(std::memory_order_relaxed); at += kStep) {
      if (madvise(base + at, std::min(kStep, bytes - at), MADV_POPULATE_WRITE) != 0) return;
    }
  });
}

PagePopulator::~PagePopulator() {
  stopping_.store(true, std::memory_order_relaxed);
  wait();
}

void PagePopulator::wait() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace troupe
