#pragma once
// Memory asked of the kernel as transparent huge pages, handed out in 64-byte aligned shares: a
// model's repacked weights, one arena for all of them (a small model's matrices are far smaller
// than a 2 MiB page). A decode step streams every weight once from DRAM; on 4 KiB pages that is
// a TLB miss every 4 KiB, and the hardware prefetchers stop at each page's end (decode ~3%
// faster on a Zen 5 EPYC, bench/README.md). The KV cache lives in one too, faulted in by a
// background thread (page_populator.hpp): a huge page first touched by a step would be zeroed
// inside it, 2 MiB at a time (prompt processing 13% slower).
#include <cstddef>
#include <memory>

namespace troupe {

class HugePageArena {
 public:
  // Reserves `bytes` (rounded up to whole huge pages); throws std::bad_alloc if it cannot.
  explicit HugePageArena(size_t bytes);
  ~HugePageArena();
  HugePageArena(const HugePageArena&) = delete;
  HugePageArena& operator=(const HugePageArena&) = delete;

  // The next `bytes` of the arena, 64-byte aligned and zero-filled; throws std::bad_alloc once
  // the reservation is used up.
  std::byte* take(size_t bytes);

  // `bytes` as the arena will count it: rounded up to 64.
  static size_t footprint(size_t bytes) { return (bytes + 63) / 64 * 64; }

 private:
  std::byte* base_ = nullptr;
  size_t size_ = 0;
  size_t used_ = 0;
};

// Memory of `bytes` that lives as long as the last copy of the pointer: a share of `arena`, or
// an arena of its own when `arena` is null.
std::shared_ptr<std::byte> take_huge_page_bytes(const std::shared_ptr<HugePageArena>& arena,
                                                size_t bytes);

}  // namespace troupe
