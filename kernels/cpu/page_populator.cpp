#include "kernels/cpu/page_populator.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>

namespace troupe {
namespace {

constexpr size_t kStep = size_t{2} << 20;  // a huge page: one fault each where the range has them
constexpr size_t kPage = 4096;             // where the range has none: a fault a page

}  // namespace

std::vector<size_t> population_order(size_t bytes, int stripes) {
  const size_t steps = (bytes + kStep - 1) / kStep;
  const size_t parts = stripes > 0 ? static_cast<size_t>(stripes) : 1;
  const size_t part = bytes / parts;
  std::vector<bool> taken(steps);
  std::vector<size_t> order;
  const auto take = [&](size_t step) {
    if (step < steps && !taken[step]) {
      taken[step] = true;
      order.push_back(step * kStep);
    }
  };
  for (size_t depth = 0; depth < part; depth += kStep) {
    for (size_t p = 0; p < parts; ++p) take((p * part + depth) / kStep);
  }
  for (size_t step = 0; step < steps; ++step) take(step);  // what the parts' rounding left
  return order;
}

PagePopulator::PagePopulator(std::byte* base, size_t bytes, int stripes) {
  if (reinterpret_cast<uintptr_t>(base) % kPage != 0) {
    throw std::invalid_argument("PagePopulator: the range must start on a page");
  }
  thread_ = std::thread([this, base, bytes, stripes] {
    // Only when nothing else wants the CPU: a step that needs a page first faults it itself.
    const sched_param idle{};
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle);
    for (size_t at : population_order(bytes, stripes)) {
      if (stopping_.load(std::memory_order_relaxed)) return;
      // A write to each page: faulted in under the range's own lock (header).
      const size_t end = std::min(kStep, bytes - at);
      for (size_t page = 0; page + sizeof(uint64_t) <= end; page += kPage) {
        __atomic_fetch_add(reinterpret_cast<uint64_t*>(base + at + page), uint64_t{0},
                           __ATOMIC_RELAXED);
      }
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
