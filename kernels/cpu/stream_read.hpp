#pragma once
// Reads memory the way a decode step reads its weights, and only that: every byte once, split
// over a pool's threads, each thread's share a stream prefetched some bytes ahead. Over the
// model's own weights, in the same minute, it is the roofline a decode step can be held against
// on a machine whose bandwidth moves with its neighbours (troupe bench latency); over a large
// buffer, troupe-micro's read ceiling (bench/micro/ceilings.cpp).
#include <cstddef>
#include <span>

#include "kernels/cpu/thread_pool.hpp"

namespace troupe {

// Seconds to read every byte of `ranges` once with `pool`'s threads (each thread a contiguous
// share of the ranges taken end to end), each line prefetched `prefetch_bytes` before it is
// read (0: the hardware prefetchers alone).
double stream_read_seconds(ThreadPool& pool, std::span<const std::span<const std::byte>> ranges,
                           size_t prefetch_bytes);

}  // namespace troupe
