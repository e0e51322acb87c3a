#pragma once
// How long a cache line takes to go from one of a pool's threads to another and back: what each
// hand-over between a step's threads pays (a region's start and end, activations one thread
// wrote and another reads). On the 2-vCPU KVM guest of a Zen 4 EPYC in bench/README.md it is
// either 60-92 ns (both vCPUs on one CCD) or 246-408 ns (two CCDs, through the I/O die), and
// the host moves the guest between the two.
#include "kernels/cpu/thread_pool.hpp"

namespace troupe {

// The median over 3 passes of a cache line's round trip, in nanoseconds, bounced `round_trips`
// times between the pool's threads 0 and 1; 0 for a pool of one thread.
double handover_round_trip_ns(ThreadPool& pool, int round_trips = 20000);

}  // namespace troupe
