#include "kernels/cpu/matmul.hpp"

#include <algorithm>
#include <stdexcept>

#include "kernels/cpu/dequantize.hpp"
#include "kernels/cpu/vec_dot.hpp"

namespace troupe {

namespace {

// Packed rows: 16 rows per task, all tokens at once.
void packed_rows(ThreadPool& pool, const PackedRows& w, const ActivationBlock* xq, int64_t tokens,
                 float* y) {
  pool.parallel_for(w.groups(), [&](int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g) w.dot_group(g, xq, tokens, y, w.rows());
  });
}

// y = W x over integer dot products with activations already quantized (xq, per token).
void quantized_rows(ThreadPool& pool, const WeightMatrix& w, const ActivationBlock* xq,
                    int64_t tokens, float* y) {
  if (w.packed) return packed_rows(pool, *w.packed, xq, tokens, y);
  const int64_t cols = w.cols;
  const int64_t blocks_per_token = cols / kQK;
  pool.parallel_for((w.rows + 1) / 2, [&](int64_t begin, int64_t end) {
    for (int64_t r = 2 * begin; r < std::min(2 * end, w.rows); r += 2) {
      int64_t t = 0;
      if (w.type == DType::Q4_1 && r + 1 < w.rows) {
        // Tiles of 2 rows x 4 tokens, for prefill; leftovers one by one below.
        const std::byte* rows[2] = {w.row(r), w.row(r + 1)};
        float out[2][4];
        for (; t + 4 <= tokens; t += 4) {
          const ActivationBlock* x4[4];
          for (int k = 0; k < 4; ++k) x4[k] = xq + (t + k) * blocks_per_token;
          if (!dot_q4_1_2x4(rows, x4, cols, out)) break;
          for (int k = 0; k < 4; ++k) {
            y[(t + k) * w.rows + r] = out[0][k];
            y[(t + k) * w.rows + r + 1] = out[1][k];
          }
        }
      }
      for (int64_t rr = r; rr < std::min(r + 2, w.rows); ++rr) {
        const std::byte* row = w.row(rr);
        for (int64_t tt = t; tt < tokens; ++tt) {
          y[tt * w.rows + rr] = dot_quantized(w.type, row, xq + tt * blocks_per_token, cols);
        }
      }
    }
  });
}

// y = W x for types without an integer dot: dequantize a row into per-thread scratch, then
// float dot products.
void float_rows(ThreadPool& pool, const WeightMatrix& w, const float* x, int64_t tokens, float* y,
                MatmulScratch& scratch) {
  const int64_t cols = w.cols;
  scratch.dequantized_rows.resize(static_cast<size_t>(pool.size()));
  pool.run([&](int thread, int threads) {
    auto& buffer = scratch.dequantized_rows[static_cast<size_t>(thread)];
    buffer.resize(static_cast<size_t>(cols));
    const int64_t begin = w.rows * thread / threads, end = w.rows * (thread + 1) / threads;
    for (int64_t r = begin; r < end; ++r) {
      const float* row = buffer.data();
      if (w.type == DType::F32) {
        row = reinterpret_cast<const float*>(w.row(r));
      } else {
        dequantize_row(w.type, w.row(r), buffer.data(), cols);
      }
      for (int64_t t = 0; t < tokens; ++t) y[t * w.rows + r] = dot_f32(row, x + t * cols, cols);
    }
  });
}

}  // namespace

void matmul_shared_input(ThreadPool& pool, std::span<const MatmulOutput> outputs, const float* x,
                         int64_t tokens, MatmulScratch& scratch) {
  // Quantize each token's activations once for every matrix that takes integer dot products.
  const ActivationBlock* xq = nullptr;
  for (const MatmulOutput& out : outputs) {
    const WeightMatrix& w = *out.weights;
    if (!has_quantized_dot(w.type)) {
      float_rows(pool, w, x, tokens, out.y, scratch);
      continue;
    }
    if (!xq) {
      const int64_t cols = w.cols, blocks_per_token = cols / kQK;
      scratch.quantized.resize(static_cast<size_t>(blocks_per_token * tokens));
      ActivationBlock* q = scratch.quantized.data();
      pool.parallel_for(tokens, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
          quantize_activations(x + t * cols, q + t * blocks_per_token, cols);
        }
      });
      xq = q;
    }
    quantized_rows(pool, w, xq, tokens, out.y);
  }
}

void matmul_quantized_input(ThreadPool& pool, std::span<const MatmulOutput> outputs,
                            const ActivationBlock* xq, int64_t tokens) {
  for (const MatmulOutput& out : outputs) {
    if (!has_quantized_dot(out.weights->type)) {
      throw std::logic_error("matmul_quantized_input: a matrix without an integer dot product");
    }
    quantized_rows(pool, *out.weights, xq, tokens, out.y);
  }
}

void matmul(ThreadPool& pool, const WeightMatrix& w, const float* x, int64_t tokens, float* y,
            MatmulScratch& scratch) {
  const MatmulOutput output{&w, y};
  matmul_shared_input(pool, std::span(&output, 1), x, tokens, scratch);
}

}  // namespace troupe
