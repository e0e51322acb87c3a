#pragma once
// One block of memory for a model's repacked weights, asked of the kernel as transparent huge
// pages. A decode step streams every weight once from DRAM; on 4 KiB pages that is a TLB miss
// every 4 KiB and the hardware prefetchers stop at each page's end (decode 3-16% slower on a
// Zen 5 EPYC, bench/README.md). The matrices of a small model are far smaller than a 2 MiB
// page, so they share one arena rather than each rounding up to pages of its own. Activations
// and the KV cache stay on ordinary pages: on huge pages their buffers, 2 MiB-aligned alike,
// collide in the same cache sets (prompt processing 5-12% slower in the same runs).
#include <cstddef>
#include <memory>

namespace troupe {

class WeightArena {
 public:
  // Reserves `bytes` (rounded up to whole huge pages); throws std::bad_alloc if it cannot.
  explicit WeightArena(size_t bytes);
  ~WeightArena();
  WeightArena(const WeightArena&) = delete;
  WeightArena& operator=(const WeightArena&) = delete;

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
std::shared_ptr<std::byte> take_weight_bytes(const std::shared_ptr<WeightArena>& arena,
                                             size_t bytes);

}  // namespace troupe
