#pragma once
// One step of a spin-wait: tells the core it is spinning (x86 PAUSE), so a waiting thread takes
// less from the memory system and the other threads of its core.
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace troupe {

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

}  // namespace troupe
