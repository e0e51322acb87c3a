#include "kernels/cpu/huge_page_arena.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <new>

namespace troupe {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

size_t round_up(size_t bytes, size_t to) {
  return (bytes + to - 1) / to * to;
}

}  // namespace

HugePageArena::HugePageArena(size_t bytes) : size_(round_up(bytes == 0 ? 1 : bytes, kHugePage)) {
  // Over-reserve by one huge page, then give back the ends, so that the arena starts on a huge
  // page boundary: only whole, aligned 2 MiB ranges can become huge pages.
  const size_t reserved = size_ + kHugePage;
  void* p = mmap(nullptr, reserved, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  auto* start = static_cast<std::byte*>(p);
  const auto address = reinterpret_cast<uintptr_t>(start);
  base_ = start + (round_up(address, kHugePage) - address);
  if (base_ > start) munmap(start, static_cast<size_t>(base_ - start));
  std::byte* end = base_ + size_;
  if (end < start + reserved) munmap(end, static_cast<size_t>(start + reserved - end));
  // A hint: where huge pages are off (transparent_hugepage=never) the arena is ordinary memory.
  madvise(base_, size_, MADV_HUGEPAGE);
}

HugePageArena::~HugePageArena() {
  munmap(base_, size_);
}

std::byte* HugePageArena::take(size_t bytes) {
  const size_t footprint = HugePageArena::footprint(bytes);
  if (footprint > size_ - used_) throw std::bad_alloc();
  std::byte* p = base_ + used_;
  used_ += footprint;
  return p;
}

std::shared_ptr<std::byte> take_huge_page_bytes(const std::shared_ptr<HugePageArena>& arena,
                                                size_t bytes) {
  std::shared_ptr<HugePageArena> owner = arena ? arena : std::make_shared<HugePageArena>(bytes);
  std::byte* p = owner->take(bytes);
  return {std::move(owner), p};  // shares the arena's ownership, points at this share
}

}  // namespace troupe
