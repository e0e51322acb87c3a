#include "kernels/cpu/matmul.hpp"

#include <algorithm>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "kernels/cpu/cpu_features.hpp"
#include "kernels/cpu/dequantize.hpp"
#include "kernels/cpu/kernel_table.hpp"
#include "kernels/cpu/vec_dot.hpp"

namespace troupe {

namespace {

// Below this many tokens, quantizing or rounding the activations on the caller beats a parallel
// region.
constexpr int64_t kParallelPrepareTokens = 4;

// fn(begin, end) over the tokens [0, tokens): each token's activations prepared once for every
// matrix of a product, on the caller or over the pool.
template <typename Fn>
void prepare_tokens(ThreadPool& pool, int64_t tokens, const Fn& fn) {
  if (tokens < kParallelPrepareTokens) return fn(0, tokens);  // cheaper than a parallel region
  pool.parallel_for(tokens, fn);
}

// A thread's share of a product from which on its read is a long run (long_run_prefetch_bytes):
// in decode on a Zen 4 EPYC the output matrix's 15 MiB a thread read 1.3x faster prefetching
// within the group being read, and the layers' 0.2-0.6 MiB slower (cpu_features.hpp).
constexpr int64_t kLongRunBytes = int64_t{2} << 20;

// Whether each of `threads` threads reads its share of `bytes` as a long run.
bool long_runs_for(int64_t bytes, int threads) {
  return bytes / threads >= kLongRunBytes;
}

// A long prompt's items of a product: a row group against this many tokens at a time. A group
// against all of 2048 tokens is up to 200 us of work, so the threads would finish a product up
// to that far apart; a run of 128 tokens keeps the 8-token tiles of the kernel as they were.
constexpr int64_t kTokenRun = 128;

// Group `group` of the groups of `outputs` counted end to end: its output and its group there.
std::pair<const MatmulOutput*, int64_t> group_of(std::span<const MatmulOutput> outputs,
                                                 int64_t group) {
  for (const MatmulOutput& out : outputs) {
    const int64_t groups = out.weights->packed->groups();
    if (group < groups) return {&out, group};
    group -= groups;
  }
  return {nullptr, 0};  // past the last: not reached, items stop at the total
}

// Products of packed matrices (16-row groups), all tokens at once. One parallel region over the
// row groups of every matrix (Q, K and V; gate and up): the threads meet once instead of once
// per matrix, and share out more pieces of work. `Activation`: ActivationBlock for Q4_1 and
// Q8_0; for BF16, float, or uint16_t (activations rounded to BF16: bf16_dot_products()).
template <typename Activation>
void packed_products(ThreadPool& pool, std::span<const MatmulOutput> outputs, const Activation* xq,
                     int64_t tokens) {
  int64_t total = 0, bytes = 0;
  for (const MatmulOutput& out : outputs) {
    total += out.weights->packed->groups();
    bytes += static_cast<int64_t>(out.weights->packed->bytes().size());
  }
  // Each thread's home range of the groups is one run through memory (ThreadPool::parallel_for);
  // a group's runs of tokens are consecutive items, so its weights stay in cache between them.
  const bool long_runs = long_runs_for(bytes, pool.size());
  const int64_t runs = (tokens + kTokenRun - 1) / kTokenRun;
  const int64_t cols = outputs.front().weights->cols;  // the same input for every matrix
  const int64_t per_token = std::is_same_v<Activation, ActivationBlock> ? cols / kQK : cols;
  pool.parallel_for(total * runs, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const auto [out, group] = group_of(outputs, item / runs);
      const PackedRows& w = *out->weights->packed;
      const int64_t first_token = item % runs * kTokenRun;
      const int64_t run_tokens = std::min(kTokenRun, tokens - first_token);
      const Activation* x = xq + first_token * per_token;
      float* y = out->y + first_token * w.rows();
      if constexpr (std::is_same_v<Activation, ActivationBlock>) {
        w.dot_group(group, x, run_tokens, y, w.rows(), long_runs);
      } else {
        w.dot_group(group, x, run_tokens, y, w.rows());
      }
    }
  });
}

// Each token's activations rounded to BF16 once, for every packed BF16 matrix of the product.
const uint16_t* rounded_to_bf16(ThreadPool& pool, const float* x, int64_t tokens, int64_t cols,
                                std::vector<uint16_t>& out) {
  out.resize(static_cast<size_t>(tokens * cols));
  prepare_tokens(pool, tokens, [&](int64_t begin, int64_t end) {
    kernels().round_to_bf16(x + begin * cols, out.data() + begin * cols, (end - begin) * cols);
  });
  return out.data();
}

// y = W x over integer dot products with activations already quantized (xq, per token), for an
// unpacked matrix.
void quantized_rows(ThreadPool& pool, const WeightMatrix& w, const ActivationBlock* xq,
                    int64_t tokens, float* y) {
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
  // Quantize each token's activations once for every matrix that takes integer dot products;
  // packed BF16 matrices take them as they are, or rounded to BF16 once (bf16_dot_products).
  auto& integer = scratch.integer_outputs;
  auto& bf16 = scratch.bf16_outputs;
  integer.clear();
  bf16.clear();
  for (const MatmulOutput& out : outputs) {
    if (has_quantized_dot(out.weights->type)) {
      integer.push_back(out);
    } else if (out.weights->packed) {
      bf16.push_back(out);
    } else {
      float_rows(pool, *out.weights, x, tokens, out.y, scratch);
    }
  }
  if (!bf16.empty()) {
    if (bf16_dot_products()) {
      const int64_t cols = bf16.front().weights->cols;
      packed_products(pool, bf16, rounded_to_bf16(pool, x, tokens, cols, scratch.rounded), tokens);
    } else {
      packed_products(pool, bf16, x, tokens);
    }
  }
  if (integer.empty()) return;
  const int64_t cols = integer.front().weights->cols, blocks_per_token = cols / kQK;
  scratch.quantized.resize(static_cast<size_t>(blocks_per_token * tokens));
  ActivationBlock* q = scratch.quantized.data();
  prepare_tokens(pool, tokens, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      quantize_activations(x + t * cols, q + t * blocks_per_token, cols);
    }
  });
  matmul_quantized_input(pool, integer, q, tokens);
}

void matmul_quantized_input(ThreadPool& pool, std::span<const MatmulOutput> outputs,
                            const ActivationBlock* xq, int64_t tokens) {
  bool all_packed = true;
  for (const MatmulOutput& out : outputs) {
    if (!has_quantized_dot(out.weights->type)) {
      throw std::logic_error("matmul_quantized_input: a matrix without an integer dot product");
    }
    all_packed = all_packed && out.weights->packed;
  }
  if (!all_packed) {
    for (const MatmulOutput& out : outputs) {
      if (out.weights->packed) {
        packed_products(pool, std::span(&out, 1), xq, tokens);
      } else {
        quantized_rows(pool, *out.weights, xq, tokens, out.y);
      }
    }
    return;
  }
  packed_products(pool, outputs, xq, tokens);
}

void matmul(ThreadPool& pool, const WeightMatrix& w, const float* x, int64_t tokens, float* y,
            MatmulScratch& scratch) {
  const MatmulOutput output{&w, y};
  matmul_shared_input(pool, std::span(&output, 1), x, tokens, scratch);
}

void packed_product_share(const WeightMatrix& w, const ActivationBlock* xq, int64_t tokens,
                          float* y, int64_t begin, int64_t end, int threads) {
  const PackedRows& packed = *w.packed;
  const bool long_runs = long_runs_for(static_cast<int64_t>(packed.bytes().size()), threads);
  for (int64_t g = begin; g < end; ++g)
    packed.dot_group(g, xq, tokens, y, packed.rows(), long_runs);
}

void read_ahead_products(ThreadPool& pool, std::span<const MatmulOutput> outputs) {
  ThreadPool::ItemBytes parts[ThreadPool::kMostReadAheadParts];
  if (outputs.size() > std::size(parts)) return;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const PackedRows* packed = outputs[i].weights->packed;
    if (!packed) return;
    parts[i] = {packed->bytes().data(), packed->bytes_per_group(), packed->groups()};
  }
  pool.read_ahead(std::span(parts, outputs.size()));
}

}  // namespace troupe
