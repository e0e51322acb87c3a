#pragma once
// This machine's ceilings, measured at start-up: how fast all cores can stream memory, how many
// FLOP/s they reach when doing nothing but independent FMAs, and (with AVX-512 VNNI) how many
// int8 multiply-adds when doing nothing but independent vpdpbusd. Kernel figures are read as
// fractions of these, not of a data sheet's numbers.
#include <cstdint>

#include "kernels/cpu/thread_pool.hpp"

namespace troupe::micro {

struct Ceilings {
  int threads = 0;
  double read_bytes = 0;    // bytes summed in one pass
  double read_seconds = 0;  // best pass
  double fma_flops = 0;     // flops of one pass, all threads
  double fma_seconds = 0;   // best pass
  double vnni_macs = 0;     // int8 multiply-adds of one pass, all threads; 0 without VNNI
  double vnni_seconds = 0;  // best pass

  double bytes_per_second() const { return read_bytes / read_seconds; }
  double flops_per_second() const { return fma_flops / fma_seconds; }
};

// Measures both ceilings on every thread of `pool` (about a second) and keeps them for ceilings().
const Ceilings& measure_ceilings(ThreadPool& pool);
const Ceilings& ceilings();

// ceiling/read_bandwidth (bytes_per_second), ceiling/fma_peak (FLOPS) and, where the CPU has
// VNNI, ceiling/vnni_peak (MACS).
void register_ceiling_benchmarks();

}  // namespace troupe::micro
