#pragma once
// Cache lines that a kernel asks for a couple at a time as its loop runs, ahead of the work that
// follows it (attention: the next tile's keys and values, kernels/cpu/paged_attention.cpp). The
// cache then reads memory while the kernel computes: a burst of requests up front fills the
// core's few miss buffers and stalls it, and no requests leave the next tile's first touches
// waiting on DRAM one run at a time.

namespace troupe {

struct LineQueue {
  // Runs of run_bytes each (a multiple of 128: lines go in pairs), asked for in order from
  // `offset` into *run. The
  // last run is asked for again and again once reached: the kernels' loops take no branch for
  // the queue's end (one made GCC keep their accumulators in memory), and asking again for a
  // line in cache costs a load slot.
  const char* const* run;
  const char* const* last;
  int run_bytes;
  int offset = 0;
};

}  // namespace troupe
