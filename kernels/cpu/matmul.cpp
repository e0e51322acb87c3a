#include "kernels/cpu/matmul.hpp"

#include "kernels/cpu/dequantize.hpp"
#include "kernels/cpu/vec_dot.hpp"

namespace troupe {

void matmul(ThreadPool& pool, const WeightMatrix& w, const float* x, int64_t tokens, float* y,
            MatmulScratch& scratch) {
  const int64_t cols = w.cols;
  if (has_quantized_dot(w.type)) {
    // Quantize each token's activations once; every row then uses integer dot products.
    const int64_t blocks_per_token = cols / kQK;
    scratch.quantized.resize(static_cast<size_t>(blocks_per_token * tokens));
    ActivationBlock* xq = scratch.quantized.data();
    pool.parallel_for(tokens, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        quantize_activations(x + t * cols, xq + t * blocks_per_token, cols);
      }
    });
    pool.parallel_for(w.rows, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const std::byte* row = w.row(r);
        for (int64_t t = 0; t < tokens; ++t) {
          y[t * w.rows + r] = dot_quantized(w.type, row, xq + t * blocks_per_token, cols);
        }
      }
    });
    return;
  }
  // Other types: dequantize a row into per-thread scratch, then float dot products.
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

}  // namespace troupe
