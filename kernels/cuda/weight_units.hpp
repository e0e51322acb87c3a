#pragma once
// Every weight type the GPU computes with, read 32 values at a time: a "unit" is one block of
// Q4_0, Q4_1 or Q8_0, an eighth of a K-quant super-block, or 32 consecutive F16/BF16/F32 values.
// Unit u of a row holds the row's values 32u .. 32u + 31, whatever the type, so a kernel can
// hand units to threads without knowing the layout. The same code runs on the host (its tests
// compare it with the CPU's dequantize_row, value for value) and on the device.
#include <cstdint>

#include "kernels/common/dtype.hpp"

#ifdef __CUDACC__
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#define TROUPE_HOST_DEVICE __host__ __device__ __forceinline__
#else
#include "kernels/cpu/half.hpp"
#define TROUPE_HOST_DEVICE inline
#endif

// Loops over a unit's values unrolled on the device, so the 32 values stay in registers.
#ifdef __CUDA_ARCH__
#define TROUPE_UNROLL _Pragma("unroll")
#else
#define TROUPE_UNROLL
#endif

namespace troupe::cuda {

constexpr int kUnit = 32;

TROUPE_HOST_DEVICE float half_bits(uint16_t h) {
#ifdef __CUDA_ARCH__
  return __half2float(__ushort_as_half(h));
#elif defined(__CUDACC__)
  return __half2float(__half(__half_raw{h}));
#else
  return half_to_float(h);
#endif
}

TROUPE_HOST_DEVICE float bf16_bits(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
#ifdef __CUDA_ARCH__
  return __uint_as_float(bits);
#else
  float f;
  __builtin_memcpy(&f, &bits, sizeof f);
  return f;
#endif
}

// A little-endian 16-bit field: every block's halves are at even offsets of blocks whose rows
// start at even addresses (device allocations are 256-byte aligned).
TROUPE_HOST_DEVICE uint16_t u16_at(const uint8_t* p) {
#ifdef __CUDA_ARCH__
  return *reinterpret_cast<const uint16_t*>(p);
#else
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
#endif
}

// Words 4-byte words of quantized bytes at p, loaded as wide as p's alignment allows (Align 4:
// 32-bit loads; 2: pairs of 16-bit loads), so that a unit takes a few loads, not 32 byte loads.
template <int Align, int Words>
TROUPE_HOST_DEVICE void load_words(const uint8_t* p, uint32_t* w) {
#ifdef __CUDA_ARCH__
  if constexpr (Align >= 4) {
    TROUPE_UNROLL
    for (int i = 0; i < Words; ++i) w[i] = reinterpret_cast<const uint32_t*>(p)[i];
  } else {
    const auto* h = reinterpret_cast<const uint16_t*>(p);
    TROUPE_UNROLL
    for (int i = 0; i < Words; ++i) w[i] = h[2 * i] | (static_cast<uint32_t>(h[2 * i + 1]) << 16);
  }
#else
  for (int i = 0; i < Words; ++i)
    w[i] = static_cast<uint32_t>(p[4 * i]) | (static_cast<uint32_t>(p[4 * i + 1]) << 8) |
           (static_cast<uint32_t>(p[4 * i + 2]) << 16) |
           (static_cast<uint32_t>(p[4 * i + 3]) << 24);
#endif
}

// Byte i of the words (little-endian).
TROUPE_HOST_DEVICE uint32_t byte_of(const uint32_t* w, int i) {
  return (w[i / 4] >> (8 * (i % 4))) & 0xff;
}

// Bytes of a type's block and the units in it.
template <DType T>
struct UnitLayout;
template <>
struct UnitLayout<DType::F32> {
  static constexpr int block_bytes = 128, units = 1;
};
template <>
struct UnitLayout<DType::F16> {
  static constexpr int block_bytes = 64, units = 1;
};
template <>
struct UnitLayout<DType::BF16> {
  static constexpr int block_bytes = 64, units = 1;
};
template <>
struct UnitLayout<DType::Q4_0> {
  static constexpr int block_bytes = 18, units = 1;
};
template <>
struct UnitLayout<DType::Q4_1> {
  static constexpr int block_bytes = 20, units = 1;
};
template <>
struct UnitLayout<DType::Q8_0> {
  static constexpr int block_bytes = 34, units = 1;
};
template <>
struct UnitLayout<DType::Q4_K> {
  static constexpr int block_bytes = 144, units = 8;
};
template <>
struct UnitLayout<DType::Q5_K> {
  static constexpr int block_bytes = 176, units = 8;
};
template <>
struct UnitLayout<DType::Q6_K> {
  static constexpr int block_bytes = 210, units = 8;
};

// K-quant scales: 8 (scale, min) pairs of 6 bits in 12 bytes (as kernels/cpu/dequantize.cpp).
TROUPE_HOST_DEVICE void k_scale_min(int j, const uint8_t* q, int& scale, int& min) {
  if (j < 4) {
    scale = q[j] & 63;
    min = q[j + 4] & 63;
  } else {
    scale = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
    min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// The 32 values of unit `u` of the row at `row` into out[0..31], by the CPU's operations (on the
// device a multiply and an add may fuse, so values can differ there in the last bit).
template <DType T>
TROUPE_HOST_DEVICE void decode_unit(const uint8_t* row, int u, float* out) {
  using L = UnitLayout<T>;
  const uint8_t* b = row + static_cast<int64_t>(u / L::units) * L::block_bytes;
  const int part = u % L::units;
  if constexpr (T == DType::F32) {
    uint32_t w[kUnit];
    load_words<4, kUnit>(b, w);
    TROUPE_UNROLL
    for (int j = 0; j < kUnit; ++j) __builtin_memcpy(&out[j], &w[j], sizeof(float));
  } else if constexpr (T == DType::F16 || T == DType::BF16) {
    uint32_t w[kUnit / 2];
    load_words<4, kUnit / 2>(b, w);
    TROUPE_UNROLL
    for (int j = 0; j < kUnit; ++j) {
      const auto h = static_cast<uint16_t>(w[j / 2] >> (16 * (j % 2)));
      out[j] = T == DType::F16 ? half_bits(h) : bf16_bits(h);
    }
  } else if constexpr (T == DType::Q4_0) {
    const float d = half_bits(u16_at(b));
    uint32_t q[4];
    load_words<2, 4>(b + 2, q);  // 18-byte blocks: only 2-byte aligned
    TROUPE_UNROLL
    for (int j = 0; j < kUnit / 2; ++j) {
      out[j] = static_cast<float>(static_cast<int>(byte_of(q, j) & 0xf) - 8) * d;
      out[j + 16] = static_cast<float>(static_cast<int>(byte_of(q, j) >> 4) - 8) * d;
    }
  } else if constexpr (T == DType::Q4_1) {
    const float d = half_bits(u16_at(b)), m = half_bits(u16_at(b + 2));
    uint32_t q[4];
    load_words<4, 4>(b + 4, q);  // 20-byte blocks
    TROUPE_UNROLL
    for (int j = 0; j < kUnit / 2; ++j) {
      out[j] = static_cast<float>(byte_of(q, j) & 0xf) * d + m;
      out[j + 16] = static_cast<float>(byte_of(q, j) >> 4) * d + m;
    }
  } else if constexpr (T == DType::Q8_0) {
    const float d = half_bits(u16_at(b));
    uint32_t q[8];
    load_words<2, 8>(b + 2, q);  // 34-byte blocks
    TROUPE_UNROLL
    for (int j = 0; j < kUnit; ++j)
      out[j] = static_cast<float>(static_cast<int8_t>(byte_of(q, j))) * d;
  } else if constexpr (T == DType::Q4_K || T == DType::Q5_K) {
    // d, dmin, scales[12], (Q5_K: qh[32]), qs[128]: units 2p and 2p + 1 share qs[32p .. 32p + 31],
    // low and high nibbles; Q5_K's fifth bit of unit u is bit u of qh[l]. 144- and 176-byte
    // blocks: 4-byte aligned.
    const float d = half_bits(u16_at(b)), dmin = half_bits(u16_at(b + 2));
    int sc, mn;
    k_scale_min(part, b + 4, sc, mn);
    const float scale = d * static_cast<float>(sc), min = dmin * static_cast<float>(mn);
    uint32_t qs[8], qh[8] = {};
    load_words<4, 8>((T == DType::Q5_K ? b + 48 : b + 16) + 32 * (part / 2), qs);
    if constexpr (T == DType::Q5_K) load_words<4, 8>(b + 16, qh);
    const int shift = (part % 2) * 4;
    TROUPE_UNROLL
    for (int l = 0; l < kUnit; ++l) {
      int q = static_cast<int>((byte_of(qs, l) >> shift) & 0xf);
      if constexpr (T == DType::Q5_K) q += (byte_of(qh, l) >> part) & 1 ? 16 : 0;
      out[l] = scale * static_cast<float>(q) - min;
    }
  } else if constexpr (T == DType::Q6_K) {
    // ql[128], qh[64], scales[16], d: each half of 128 values is 4 groups of 32 (units 4h + g);
    // group g takes the low (g < 2) or high nibble of ql[l + 32 (g % 2)], bits 2g of qh[l] and
    // scale 2g + l / 16 of its half. 210-byte blocks: 2-byte aligned.
    const float d = half_bits(u16_at(b + 208));
    const int half = part / 4, g = part % 4;
    uint32_t ql[8], qh[8];
    load_words<2, 8>(b + 64 * half + 32 * (g % 2), ql);
    load_words<2, 8>(b + 128 + 32 * half, qh);
    const auto* sc = reinterpret_cast<const int8_t*>(b + 192 + 8 * half);
    TROUPE_UNROLL
    for (int l = 0; l < kUnit; ++l) {
      const int low = static_cast<int>(g < 2 ? (byte_of(ql, l) & 0xf) : (byte_of(ql, l) >> 4));
      const int q = (low | static_cast<int>(((byte_of(qh, l) >> (2 * g)) & 3) << 4)) - 32;
      out[l] = d * sc[l / 16 + 2 * g] * static_cast<float>(q);
    }
  }
}

}  // namespace troupe::cuda
