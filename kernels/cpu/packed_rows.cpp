#include "kernels/cpu/packed_rows.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512VNNI__)
#define TROUPE_PACKED_ROWS 1
#include "kernels/cpu/avx512.hpp"
#endif

namespace troupe {
namespace {

// A group of 16 rows is laid out as
//   scales  [block][16] half        (both types)
//   mins    [block][16] half        (Q4_1 only)
//   values  [block][chunk][16 rows][4 bytes]
// with each table padded to 64 bytes. Q4_1 has 4 chunks per block: byte b of row r in chunk h is
// the row's qs[4h + b], whose low nibble is element 4h + b and high nibble element 16 + 4h + b.
// Q8_0 has 8 chunks: byte b of row r in chunk j is element 4j + b plus 128, unsigned, since
// vpdpbusd multiplies unsigned by signed bytes.
constexpr int64_t kAlign = 64;
constexpr int64_t kChunkBytes = kPackedRows * 4;

int64_t padded(int64_t bytes) {
  return (bytes + kAlign - 1) / kAlign * kAlign;
}
int64_t scale_table_bytes(int64_t blocks) {
  return padded(blocks * kPackedRows * 2);
}
int64_t value_bytes_per_block(DType type) {
  return type == DType::Q4_1 ? 4 * kChunkBytes : 8 * kChunkBytes;
}
int64_t group_bytes(DType type, int64_t blocks) {
  const int64_t tables = type == DType::Q4_1 ? 2 : 1;
  return tables * scale_table_bytes(blocks) + blocks * value_bytes_per_block(type);
}

template <typename Block>
void pack_group(DType type, const Block* const rows[kPackedRows], int64_t blocks, std::byte* out) {
  auto* scales = reinterpret_cast<uint16_t*>(out);
  auto* mins = reinterpret_cast<uint16_t*>(out + scale_table_bytes(blocks));
  auto* values =
      reinterpret_cast<uint8_t*>(out + (type == DType::Q4_1 ? 2 : 1) * scale_table_bytes(blocks));
  for (int64_t i = 0; i < blocks; ++i) {
    uint8_t* block_values = values + i * value_bytes_per_block(type);
    for (int r = 0; r < kPackedRows; ++r) {
      const Block& b = rows[r][i];
      scales[i * kPackedRows + r] = b.d;
      if constexpr (std::is_same_v<Block, BlockQ4_1>) {
        mins[i * kPackedRows + r] = b.m;
        for (int h = 0; h < 4; ++h)
          std::memcpy(block_values + h * kChunkBytes + 4 * r, b.qs + 4 * h, 4);
      } else {
        for (int j = 0; j < 8; ++j) {
          for (int k = 0; k < 4; ++k) {
            block_values[j * kChunkBytes + 4 * r + k] =
                static_cast<uint8_t>(static_cast<uint8_t>(b.qs[4 * j + k]) ^ 0x80);
          }
        }
      }
    }
  }
}

#ifdef TROUPE_PACKED_ROWS

// Sixteen rows times `T` tokens over every block, in dot_quantized's arithmetic exactly (which is
// llama.cpp's): per (row, token), 8 float accumulators, one per 4-element quad, each taking
// (d_w * d_x) * quad product per block; then the same tree of additions as its horizontal sum;
// Q4_1 adds its minimum terms m_w * sum_x, summed in block order without fusing, last.
// acc[t][j] holds quad j of token t for the 16 rows, one row per lane.
template <DType kType, int T>
void group_tile(const std::byte* group, int64_t blocks, const ActivationBlock* x, int64_t x_stride,
                float* y, int64_t y_stride) {
  constexpr bool kQ4_1 = kType == DType::Q4_1;
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  const auto* scales = reinterpret_cast<const __m256i*>(group);
  const auto* mins = reinterpret_cast<const __m256i*>(group + scale_table_bytes(blocks));
  const auto* values = group + (kQ4_1 ? 2 : 1) * scale_table_bytes(blocks);
  __m512 acc[T][8];
  __m512 min_sum[T];
  for (int t = 0; t < T; ++t) {
    for (auto& a : acc[t]) a = _mm512_setzero_ps();
    min_sum[t] = _mm512_setzero_ps();
  }
  const __m512i low_nibbles = _mm512_set1_epi8(0x0f);
  for (int64_t i = 0; i < blocks; ++i) {
    const __m512 dw = _mm512_cvtph_ps(_mm256_load_si256(scales + i));
    const __m512 mw = kQ4_1 ? _mm512_cvtph_ps(_mm256_load_si256(mins + i)) : _mm512_setzero_ps();
    __m512i q[8];
    const auto* v = reinterpret_cast<const __m512i*>(values + i * value_bytes_per_block(kType));
    if constexpr (kQ4_1) {
      for (int h = 0; h < 4; ++h) {
        const __m512i packed = _mm512_load_si512(v + h);
        q[h] = _mm512_and_si512(packed, low_nibbles);
        q[h + 4] = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low_nibbles);
      }
    } else {
      for (int j = 0; j < 8; ++j) q[j] = _mm512_load_si512(v + j);
    }
    for (int t = 0; t < T; ++t) {
      const ActivationBlock& a = x[t * x_stride + i];
      const auto* quads = reinterpret_cast<const int32_t*>(a.qs);
      const __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(a.d));
      for (int j = 0; j < 8; ++j) {
        // Q8_0's weights carry +128: start from the activation's offset term to take it out.
        const __m512i start = kQ4_1 ? _mm512_setzero_si512() : _mm512_set1_epi32(a.offsets[j]);
        const __m512i dot = _mm512_dpbusd_epi32(start, q[j], _mm512_set1_epi32(quads[j]));
        acc[t][j] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(dot), acc[t][j]);
      }
      if constexpr (kQ4_1) {
        const __m512 term = _mm512_mul_round_ps(mw, _mm512_set1_ps(a.sum), kRound);
        min_sum[t] = _mm512_add_round_ps(min_sum[t], term, kRound);
      }
    }
  }
  for (int t = 0; t < T; ++t) {
    const auto& a = acc[t];
    const __m512 even = _mm512_add_ps(_mm512_add_ps(a[0], a[4]), _mm512_add_ps(a[2], a[6]));
    const __m512 odd = _mm512_add_ps(_mm512_add_ps(a[1], a[5]), _mm512_add_ps(a[3], a[7]));
    _mm512_storeu_ps(y + t * y_stride, _mm512_add_ps(min_sum[t], _mm512_add_ps(even, odd)));
  }
}

// Two tokens' 16 accumulators, the 8 weight registers and the scales fill the 32 registers.
constexpr int kMaxTileTokens = 2;

template <DType kType>
void group_tokens(const std::byte* group, int64_t blocks, const ActivationBlock* x, int64_t tokens,
                  float* y, int64_t y_stride) {
  int64_t t = 0;
  for (; t + kMaxTileTokens <= tokens; t += kMaxTileTokens) {
    group_tile<kType, kMaxTileTokens>(group, blocks, x + t * blocks, blocks, y + t * y_stride,
                                      y_stride);
  }
  const ActivationBlock* xt = x + t * blocks;
  float* yt = y + t * y_stride;
  switch (tokens - t) {
    case 1:
      return group_tile<kType, 1>(group, blocks, xt, blocks, yt, y_stride);
    default:
      return;
  }
}

#endif

}  // namespace

bool can_pack_rows([[maybe_unused]] DType type, [[maybe_unused]] int64_t rows,
                   [[maybe_unused]] int64_t cols) {
#ifdef TROUPE_PACKED_ROWS
  return (type == DType::Q4_1 || type == DType::Q8_0) && rows > 0 && rows % kPackedRows == 0 &&
         cols > 0 && cols % kQK == 0;
#else
  return false;
#endif
}

void PackedRows::Free::operator()(std::byte* p) const {
  std::free(p);
}

PackedRows::PackedRows(DType type, int64_t rows, int64_t cols, const std::byte* data)
    : type_(type), rows_(rows), cols_(cols) {
  if (!can_pack_rows(type, rows, cols)) {
    throw std::logic_error("PackedRows: this matrix has no packed layout in this build");
  }
  const int64_t blocks = cols / kQK;
  group_bytes_ = group_bytes(type, blocks);
  const auto total = static_cast<size_t>(group_bytes_ * groups());
  bytes_.reset(static_cast<std::byte*>(std::aligned_alloc(kAlign, total)));
  if (!bytes_) throw std::bad_alloc();
  std::memset(bytes_.get(), 0, total);
  const int64_t row_stride = row_bytes(type, cols);
  for (int64_t g = 0; g < groups(); ++g) {
    std::byte* out = bytes_.get() + g * group_bytes_;
    const std::byte* first = data + g * kPackedRows * row_stride;
    if (type == DType::Q4_1) {
      const BlockQ4_1* group_rows[kPackedRows];
      for (int r = 0; r < kPackedRows; ++r) {
        group_rows[r] = reinterpret_cast<const BlockQ4_1*>(first + r * row_stride);
      }
      pack_group(type, group_rows, blocks, out);
    } else {
      const BlockQ8_0* group_rows[kPackedRows];
      for (int r = 0; r < kPackedRows; ++r) {
        group_rows[r] = reinterpret_cast<const BlockQ8_0*>(first + r * row_stride);
      }
      pack_group(type, group_rows, blocks, out);
    }
  }
}

void PackedRows::dot_group([[maybe_unused]] int64_t group,
                           [[maybe_unused]] const ActivationBlock* x,
                           [[maybe_unused]] int64_t tokens, [[maybe_unused]] float* y,
                           [[maybe_unused]] int64_t y_stride) const {
#ifdef TROUPE_PACKED_ROWS
  const std::byte* g = bytes_.get() + group * group_bytes_;
  float* out = y + group * kPackedRows;
  if (type_ == DType::Q4_1) {
    group_tokens<DType::Q4_1>(g, cols_ / kQK, x, tokens, out, y_stride);
  } else {
    group_tokens<DType::Q8_0>(g, cols_ / kQK, x, tokens, out, y_stride);
  }
#endif
}

}  // namespace troupe
