#include "kernels/cpu/cpu_features.hpp"

#include <cstdlib>

namespace troupe {

std::string_view isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::scalar:
      return "scalar";
    case CpuIsa::avx2:
      return "avx2";
    case CpuIsa::avx512:
      return "avx512";
  }
  return "scalar";
}

std::optional<CpuIsa> parse_isa(std::string_view name) {
  for (CpuIsa isa : {CpuIsa::scalar, CpuIsa::avx2, CpuIsa::avx512}) {
    if (name == isa_name(isa)) return isa;
  }
  return std::nullopt;
}

CpuIsa best_supported_isa() {
#if defined(TROUPE_SIMD_VARIANTS)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512vnni");
  return avx512 ? CpuIsa::avx512 : avx2 ? CpuIsa::avx2 : CpuIsa::scalar;
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
    return __builtin_cpu_is("amd") != 0;
#else
    return false;
#endif
  }();
  return chosen;
}

}  // namespace troupe
