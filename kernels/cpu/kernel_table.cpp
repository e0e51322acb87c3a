#include "kernels/cpu/kernel_table.hpp"

#include <stdexcept>
#include <string>

#include "kernels/cpu/kernel_variants.hpp"

namespace troupe {
namespace {

constexpr KernelTable kScalar{
    .isa = CpuIsa::scalar,
    .quantize_activations = scalar::quantize_activations,
    .dot_q4_0 = scalar::dot_q4_0,
    .dot_q4_1 = scalar::dot_q4_1,
    .dot_q8_0 = scalar::dot_q8_0,
    .dot_f32 = scalar::dot_f32,
    .dot_q4_1_2x4 = nullptr,
    .packed_q4_1 = nullptr,
    .packed_q8_0 = nullptr,
    .packed_bf16 = nullptr,
    .packed_bf16_rounded = nullptr,
    .round_to_bf16 = scalar::round_to_bf16,
    .attention_scores = scalar::attention_scores,
    .attention_values = scalar::attention_values,
    .attention_asks_ahead = scalar::attention_asks_ahead,
    .softmax_tile = scalar::softmax_tile,
    .silu_mul = scalar::silu_mul,
    .exp_shifted_sum = scalar::exp_shifted_sum,
    .argmax = scalar::argmax,
};

#if defined(TROUPE_SIMD_VARIANTS)
// AVX2 has no AVX-512 quantizer, packing or 16-lane attention: those stay scalar.
constexpr KernelTable kAvx2{
    .isa = CpuIsa::avx2,
    .quantize_activations = scalar::quantize_activations,
    .dot_q4_0 = avx2::dot_q4_0,
    .dot_q4_1 = avx2::dot_q4_1,
    .dot_q8_0 = avx2::dot_q8_0,
    .dot_f32 = avx2::dot_f32,
    .dot_q4_1_2x4 = avx2::dot_q4_1_2x4,
    .packed_q4_1 = nullptr,
    .packed_q8_0 = nullptr,
    .packed_bf16 = nullptr,
    .packed_bf16_rounded = nullptr,
    .round_to_bf16 = scalar::round_to_bf16,
    .attention_scores = scalar::attention_scores,
    .attention_values = scalar::attention_values,
    .attention_asks_ahead = scalar::attention_asks_ahead,
    .softmax_tile = scalar::softmax_tile,
    .silu_mul = scalar::silu_mul,
    .exp_shifted_sum = scalar::exp_shifted_sum,
    .argmax = scalar::argmax,
};

// AVX-512 keeps AVX2's one-row dot products, for the matrices that do not pack.
constexpr KernelTable kAvx512{
    .isa = CpuIsa::avx512,
    .quantize_activations = avx512::quantize_activations,
    .dot_q4_0 = avx2::dot_q4_0,
    .dot_q4_1 = avx2::dot_q4_1,
    .dot_q8_0 = avx2::dot_q8_0,
    .dot_f32 = avx2::dot_f32,
    .dot_q4_1_2x4 = avx2::dot_q4_1_2x4,
    .packed_q4_1 = avx512::packed_q4_1,
    .packed_q8_0 = avx512::packed_q8_0,
    .packed_bf16 = avx512::packed_bf16,
    .packed_bf16_rounded = avx512::packed_bf16_rounded,
    .round_to_bf16 = avx512::round_to_bf16,
    .attention_scores = avx512::attention_scores,
    .attention_values = avx512::attention_values,
    .attention_asks_ahead = avx512::attention_asks_ahead,
    .softmax_tile = avx512::softmax_tile,
    .silu_mul = avx512::silu_mul,
    .exp_shifted_sum = avx512::exp_shifted_sum,
    .argmax = avx512::argmax,
};

// AVX-512's, with the packed Q4_1 and Q8_0 products on AMX-INT8 tiles (from 16 tokens on; below,
// they call AVX-512's) and the packed BF16 one on AMX-BF16 tiles (a lone token in FMAs that
// repeat the tiles' order).
constexpr KernelTable kAmx = [] {
  KernelTable table = kAvx512;
  table.isa = CpuIsa::amx;
  table.packed_q4_1 = amx::packed_q4_1;
  table.packed_q8_0 = amx::packed_q8_0;
  table.packed_bf16_rounded = amx::packed_bf16_rounded;
  return table;
}();
#endif

}  // namespace

const KernelTable& kernel_table(CpuIsa isa) {
  if (!isa_supported(isa)) {
    throw std::logic_error("kernel_table: this CPU does not run " + std::string(isa_name(isa)));
  }
#if defined(TROUPE_SIMD_VARIANTS)
  if (isa == CpuIsa::amx) return kAmx;
  if (isa == CpuIsa::avx512) return kAvx512;
  if (isa == CpuIsa::avx2) return kAvx2;
#endif
  return kScalar;
}

const KernelTable& kernels() {
  static const KernelTable& selected = kernel_table(selected_isa());
  return selected;
}

}  // namespace troupe
