#include "kernels/cpu/stream_read.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>

namespace troupe {
namespace {

// XORs the 8-byte words of [p, p + n), 4 independent chains, prefetching `ahead` bytes on.
uint64_t fold(const std::byte* p, size_t n, size_t ahead) {
  uint64_t lanes[4] = {};
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    if (ahead > 0) __builtin_prefetch(p + i + ahead, 0, 3);
    for (int k = 0; k < 8; ++k) {
      uint64_t word;
      std::memcpy(&word, p + i + 8 * k, sizeof word);
      lanes[k % 4] ^= word;
    }
  }
  for (; i < n; ++i) lanes[0] ^= static_cast<uint64_t>(p[i]);
  return lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3];
}

}  // namespace

double stream_read_seconds(ThreadPool& pool, std::span<const std::span<const std::byte>> ranges,
                           size_t prefetch_bytes) {
  size_t total = 0;
  for (const auto& r : ranges) total += r.size();
  // What the reads folded to, kept where the compiler must write it: the reads stay.
  static std::atomic<uint64_t> sink{0};
  const auto start = std::chrono::steady_clock::now();
  pool.run([&](int thread, int threads) {
    // This thread's share [begin, end) of the ranges taken end to end.
    const size_t begin = total * static_cast<size_t>(thread) / static_cast<size_t>(threads);
    const size_t end = total * static_cast<size_t>(thread + 1) / static_cast<size_t>(threads);
    uint64_t folded = 0;
    size_t offset = 0;  // where the current range starts, end to end
    for (const auto& r : ranges) {
      const size_t from = std::max(begin, offset), to = std::min(end, offset + r.size());
      if (from < to) folded ^= fold(r.data() + (from - offset), to - from, prefetch_bytes);
      offset += r.size();
      if (offset >= end) break;
    }
    sink.fetch_xor(folded, std::memory_order_relaxed);
  });
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace troupe
