#pragma once
// Which instruction sets the kernels may use, decided at run time: a binary built for any x86-64
// (TROUPE_PORTABLE) still takes AVX2 or AVX-512 VNNI where the CPU has them. The kernels come in
// one variant per level (kernels/cpu/*_avx2.cpp, *_avx512.cpp, each compiled for its level);
// kernel_table.hpp picks the variant functions once.
#include <cstdint>
#include <optional>
#include <string_view>

namespace troupe {

// Ordered: each level includes the ones below it.
enum class CpuIsa {
  scalar = 0,  // plain C++: the reference every SIMD kernel is tested against
  avx2 = 1,    // AVX2 with FMA and F16C
  avx512 = 2,  // AVX-512 F, BW, VL and VNNI, plus AVX2's
  // AVX-512's, with AMX tiles: AMX-INT8 for the packed Q4_1 and Q8_0 products of 16 tokens or
  // more, AMX-BF16 for the packed BF16 ones: where the CPU has AMX-TILE, AMX-INT8, AMX-BF16 and
  // AVX-512 BF16 and Linux grants this process the tiles' state.
  amx = 3,
};

std::string_view isa_name(CpuIsa isa);
std::optional<CpuIsa> parse_isa(std::string_view name);

// The best level this CPU runs and this build has kernels for.
CpuIsa best_supported_isa();
bool isa_supported(CpuIsa isa);

// The level the kernels use: the best supported, or the environment variable TROUPE_CPU_ISA
// (scalar, avx2, avx512 or amx) to measure or test a lower one; a level above the supported one is
// lowered to it. Decided once per process.
CpuIsa selected_isa();

// How many bytes ahead of its reads a product that reads each weight once (a decode step's)
// prefetches: enough lines in flight to cover a DRAM latency at one core's share of the read
// bandwidth. Measured per vendor, not derived (bench/README.md): 8 KiB on a Zen 5 EPYC (decode
// 1.1x over 1.5 KiB), 1.5 KiB elsewhere (best at 1-3 KiB on Sapphire Rapids). The environment
// variable TROUPE_PREFETCH_BYTES sets it, to measure another machine: a whole number of bytes up
// to 1 MiB; anything else is ignored, as TROUPE_CPU_ISA's unknown names are. Decided once per
// process.
int64_t stream_prefetch_bytes();

// The same for a thread's long run of one matrix (an output projection's share, megabytes),
// where the hardware prefetchers have taken the stream over: on AMD 0, that is, prefetches run
// through the group being read, a line per block ahead of its loads (a Zen 4 EPYC read the
// output matrix in decode 1.3x faster than with 8 KiB, and far faster than with none);
// elsewhere stream_prefetch_bytes(), as measured there. Decided once per process.
int64_t long_run_prefetch_bytes();

// Whether packed BF16 products round their activations to BF16 (kernel_table.hpp:
// packed_bf16_rounded) rather than widen the weights to FP32 for FMAs. Only where the CPU has
// AVX-512 BF16 and rounding pays: on AMD, for vdpbf16ps (Zen 4: a 512-bit vdpbf16ps issues once a
// cycle a core, as an FMA does, with twice its multiply-adds), and at the amx level, for AMX-BF16
// tiles; not on other Intel CPUs (Sapphire Rapids runs vdpbf16ps at a fraction of the FMA's
// rate). The environment variable
// TROUPE_BF16_DOT=0 or 1 chooses, to measure or test (1 still needs the instruction). Decided
// once per process.
bool bf16_dot_products();
// Whether the CPU has AVX-512 BF16 (vdpbf16ps) besides the avx512 level.
bool has_avx512_bf16();

}  // namespace troupe
