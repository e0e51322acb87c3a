#pragma once
// The device memory's read bandwidth as a kernel sees it: the ceiling a decode step (which reads
// every weight once) is measured against.
#include <cstdint>

namespace troupe::cuda {

// Bytes per second reading a `bytes` buffer (well past the L2) `repeats` times, best repeat.
double measure_read_bandwidth(int64_t bytes, int repeats);

}  // namespace troupe::cuda
