#pragma once
// Reads memory the way a decode step reads its weights, and only that: every byte once, split
// over a pool's threads, each thread's share a stream prefetched stream_prefetch_bytes() ahead.
// The time it takes over the same bytes, in the same minute, is the roofline a decode step's
// weight reading can be held against on a machine whose bandwidth moves with its neighbours
// (troupe bench latency; bench/README.md).
#include <cstddef>
#include <span>

#include "kernels/cpu/thread_pool.hpp"

namespace troupe {

// Seconds to read every byte of `ranges` once with `pool`'s threads (each thread a contiguous
// share of the ranges taken end to end).
double stream_read_seconds(ThreadPool& pool, std::span<const std::span<const std::byte>> ranges);

}  // namespace troupe
