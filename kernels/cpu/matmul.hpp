#pragma once
// Batched matrix-vector products against a weight matrix that stays in its stored (quantized)
// type: every weight row is read once per call and applied to all tokens of the batch.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/common/weight_matrix.hpp"
#include "kernels/cpu/packed_rows.hpp"
#include "kernels/cpu/quant_blocks.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace troupe {

// One product of a shared input: the matrix and where its outputs go.
struct MatmulOutput {
  const WeightMatrix* weights;
  float* y;
};

// Scratch a matmul reuses between calls, so the hot path does not allocate.
struct MatmulScratch {
  std::vector<ActivationBlock> quantized;
  std::vector<uint16_t> rounded;  // activations rounded to BF16, for packed BF16 matrices
  std::vector<std::vector<float>> dequantized_rows;  // one per thread
  std::vector<MatmulOutput> integer_outputs;         // the products over quantized activations
  std::vector<MatmulOutput> bf16_outputs;            // the products of packed BF16 matrices
};

// y[t * w.rows + r] = dot(w.row(r), x[t * w.cols ...]) for t < tokens, over the pool's threads.
void matmul(ThreadPool& pool, const WeightMatrix& w, const float* x, int64_t tokens, float* y,
            MatmulScratch& scratch);

// Several products of one input (Q, K and V; gate and up): the input is quantized once for all.
// Every matrix must have the same number of columns.
void matmul_shared_input(ThreadPool& pool, std::span<const MatmulOutput> outputs, const float* x,
                         int64_t tokens, MatmulScratch& scratch);

// The same from activations already quantized (cols / 32 blocks per token), for matrices that
// all take integer dot products (has_quantized_dot).
void matmul_quantized_input(ThreadPool& pool, std::span<const MatmulOutput> outputs,
                            const ActivationBlock* xq, int64_t tokens);

// Groups [begin, end) of a packed matrix's product with activations already quantized: one
// thread's share, from within a region of `threads` threads it is already running in.
void packed_product_share(const WeightMatrix& w, const ActivationBlock* xq, int64_t tokens,
                          float* y, int64_t begin, int64_t end, int threads);

// Asks the pool's workers to read ahead what their share of these products will read (a
// product's groups, as packed_products splits them), while the caller does serial work before
// it (ThreadPool::read_ahead). Nothing where a matrix is not packed.
void read_ahead_products(ThreadPool& pool, std::span<const MatmulOutput> outputs);

}  // namespace troupe
