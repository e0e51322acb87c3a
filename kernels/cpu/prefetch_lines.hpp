#pragma once
// Asks for every cache line of a small buffer at once, before a serial loop reads it in order.
// After a parallel region, the lines the other threads wrote sit in their caches (on another
// CCD of an AMD part, a few hundred ns away each): requests issued up front overlap those
// transfers, where the loop alone waits on them a few at a time.
#include <cstddef>

namespace troupe {

inline void prefetch_lines(const void* data, size_t bytes) {
  const char* p = static_cast<const char*>(data);
  for (size_t at = 0; at < bytes; at += 64) {
    // Not __builtin_prefetch: GCC counts a function of prefetches alone as one without effects
    // and drops the calls to it (seen: none left in transformer.cpp's object).
#if defined(__x86_64__)
    asm volatile("prefetcht0 %0" : : "m"(p[at]));
#else
    __builtin_prefetch(p + at, 0, 3);
#endif
  }
}

}  // namespace troupe
