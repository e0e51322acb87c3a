#include "kernels/cpu/cpu_features.hpp"

#include <cstdlib>

#if defined(TROUPE_SIMD_VARIANTS)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace troupe {

std::string_view isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::scalar:
      return "scalar";
    case CpuIsa::avx2:
      return "avx2";
    case CpuIsa::avx512:
      return "avx512";
    case CpuIsa::amx:
      return "amx";
  }
  return "scalar";
}

std::optional<CpuIsa> parse_isa(std::string_view name) {
  for (CpuIsa isa : {CpuIsa::scalar, CpuIsa::avx2, CpuIsa::avx512, CpuIsa::amx}) {
    if (name == isa_name(isa)) return isa;
  }
  return std::nullopt;
}

#if defined(TROUPE_SIMD_VARIANTS)
namespace {

// Linux hands a process the AMX tiles' 8 KiB of state only when asked (arch_prctl
// ARCH_REQ_XCOMP_PERM for XTILEDATA, Linux 5.16 on); a thread that uses a tile without it is
// killed. Asked once; the grant covers every thread of the process.
bool amx_granted() {
  static const bool granted = [] {
    constexpr int kRequestPermission = 0x1023;  // ARCH_REQ_XCOMP_PERM
    constexpr int kTileData = 18;               // XFEATURE_XTILEDATA
    return syscall(SYS_arch_prctl, kRequestPermission, kTileData) == 0;
  }();
  return granted;
}

}  // namespace
#endif

CpuIsa best_supported_isa() {
#if defined(TROUPE_SIMD_VARIANTS)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512vnni");
  const bool amx = avx512 && __builtin_cpu_supports("amx-tile") &&
                   __builtin_cpu_supports("amx-int8") && __builtin_cpu_supports("amx-bf16") &&
                   __builtin_cpu_supports("avx512bf16") && amx_granted();
  return amx ? CpuIsa::amx : avx512 ? CpuIsa::avx512 : avx2 ? CpuIsa::avx2 : CpuIsa::scalar;
#else
  return CpuIsa::scalar;  // not built: the SIMD variants are x86-64 only (kernels/CMakeLists.txt)
#endif
}

bool isa_supported(CpuIsa isa) {
  return isa <= best_supported_isa();
}

CpuIsa selected_isa() {
  static const CpuIsa selected = [] {
    const CpuIsa best = best_supported_isa();
    const char* wanted = std::getenv("TROUPE_CPU_ISA");
    const auto isa = wanted ? parse_isa(wanted) : std::nullopt;
    return isa && *isa < best ? *isa : best;
  }();
  return selected;
}

int64_t stream_prefetch_bytes() {
  static const int64_t bytes = [] {
    if (const char* wanted = std::getenv("TROUPE_PREFETCH_BYTES")) {
      char* end = nullptr;
      const long long value = std::strtoll(wanted, &end, 10);
      if (end != wanted && *end == '\0' && value >= 0 && value <= (1 << 20)) return int64_t{value};
    }
#if defined(TROUPE_SIMD_VARIANTS)
    __builtin_cpu_init();
    if (__builtin_cpu_is("amd")) return int64_t{8192};
#endif
    return int64_t{1536};
  }();
  return bytes;
}

int64_t long_run_prefetch_bytes() {
  static const int64_t bytes = [] {
#if defined(TROUPE_SIMD_VARIANTS)
    __builtin_cpu_init();
    if (__builtin_cpu_is("amd")) return int64_t{0};
#endif
    return stream_prefetch_bytes();
  }();
  return bytes;
}

bool has_avx512_bf16() {
#if defined(TROUPE_SIMD_VARIANTS)
  __builtin_cpu_init();
  return isa_supported(CpuIsa::avx512) && __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

bool bf16_dot_products() {
  static const bool chosen = [] {
#if defined(TROUPE_SIMD_VARIANTS)
    if (selected_isa() < CpuIsa::avx512 || !has_avx512_bf16()) return false;  // (cpu_init'ed)
    const char* wanted = std::getenv("TROUPE_BF16_DOT");
    if (wanted && (wanted == std::string_view("0") || wanted == std::string_view("1"))) {
      return wanted[0] == '1';
    }
    return __builtin_cpu_is("amd") != 0 || selected_isa() == CpuIsa::amx;
#else
    return false;
#endif
  }();
  return chosen;
}

}  // namespace troupe
