#include "engine/model/transformer.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels/cpu/dequantize.hpp"
#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/fused_quantize.hpp"
#include "kernels/cpu/vec_dot.hpp"

namespace troupe {
namespace {

void add_bias(float* x, const float* bias, int64_t tokens, int64_t width) {
  if (!bias) return;
  for (int64_t t = 0; t < tokens; ++t) add_in_place(x + t * width, bias, width);
}

// Below this many tokens, per-token work is cheaper on one thread than a parallel region.
constexpr int64_t kParallelTokens = 4;

// Whether every matrix takes 8-bit activations, so the input can be made already quantized.
bool takes_quantized(std::span<const MatmulOutput> outputs) {
  return std::all_of(outputs.begin(), outputs.end(),
                     [](const MatmulOutput& o) { return has_quantized_dot(o.weights->type); });
}

}  // namespace

void Transformer::for_each_token(int64_t tokens, const std::function<void(int64_t)>& fn) {
  if (tokens < kParallelTokens) {
    for (int64_t t = 0; t < tokens; ++t) fn(t);
    return;
  }
  pool_->parallel_for(tokens, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) fn(t);
  });
}

Transformer::Transformer(ModelConfig config, ModelWeights weights, std::shared_ptr<ThreadPool> pool,
                         KvShape kv)
    : config_(std::move(config)),
      weights_(std::move(weights)),
      pool_(std::move(pool)),
      cache_(config_, kv.blocks, kv.block_size) {
  if (!weights_.shard.whole()) throw std::logic_error("Transformer: a tensor-parallel shard");
}

void Transformer::matmul(const WeightMatrix& w, const float* x, int64_t tokens, float* y) {
  troupe::matmul(*pool_, w, x, tokens, y, matmul_scratch_);
}

std::span<const float> Transformer::forward(std::span<const SequenceChunk> batch) {
  const int64_t d = config_.embedding_dim;
  int64_t tokens = 0;
  for (const auto& chunk : batch) tokens += static_cast<int64_t>(chunk.tokens.size());

  positions_.clear();
  places_.clear();
  logit_rows_.clear();
  for (const auto& chunk : batch) {
    const auto n = static_cast<int32_t>(chunk.tokens.size());
    const size_t needed_blocks = static_cast<size_t>(
        (chunk.start_position + n + cache_.block_size() - 1) / cache_.block_size());
    if (n == 0 || chunk.block_table.size() < needed_blocks) {
      throw std::logic_error("Transformer::forward: empty chunk or short block table");
    }
    for (int32_t i = 0; i < n; ++i) {
      positions_.push_back(chunk.start_position + i);
      places_.push_back(TokenPlace{chunk.block_table.data(), chunk.start_position + i});
      if (chunk.logits == ChunkLogits::every || (chunk.logits == ChunkLogits::last && i == n - 1)) {
        logit_rows_.push_back(static_cast<int64_t>(places_.size()) - 1);
      }
    }
  }

  hidden_.resize(static_cast<size_t>(tokens * d));
  int64_t t = 0;
  for (const auto& chunk : batch) {
    for (int32_t id : chunk.tokens) {
      if (id < 0 || id >= config_.vocab_size) {
        throw std::logic_error("Transformer::forward: token id out of range");
      }
      dequantize_row(weights_.token_embedding.type, weights_.token_embedding.row(id),
                     hidden_.data() + t * d, d);
      ++t;
    }
  }
  rope_.compute(config_.rope, positions_.data(), tokens);

  for (int layer = 0; layer < config_.layers; ++layer) run_layer(layer, tokens);

  // Final norm and the output projection, only for the rows whose logits are wanted.
  const auto rows = static_cast<int64_t>(logit_rows_.size());
  normed_.resize(static_cast<size_t>(rows * d));
  for (int64_t r = 0; r < rows; ++r) {
    rms_norm(hidden_.data() + logit_rows_[static_cast<size_t>(r)] * d, weights_.output_norm,
             config_.rms_eps, d, normed_.data() + r * d);
  }
  logits_.resize(static_cast<size_t>(rows * config_.vocab_size));
  matmul(weights_.output, normed_.data(), rows, logits_.data());
  return logits_;
}

void Transformer::normed_products(const float* norm_weight, std::span<const MatmulOutput> outputs,
                                  int64_t tokens) {
  const int64_t d = config_.embedding_dim;
  if (takes_quantized(outputs)) {
    quantized_.resize(static_cast<size_t>(tokens * d / kQK));
    for_each_token(tokens, [&](int64_t t) {
      rms_norm_quantize(hidden_.data() + t * d, norm_weight, config_.rms_eps, d,
                        quantized_.data() + t * d / kQK);
    });
    matmul_quantized_input(*pool_, outputs, quantized_.data(), tokens);
    return;
  }
  for_each_token(tokens, [&](int64_t t) {
    rms_norm(hidden_.data() + t * d, norm_weight, config_.rms_eps, d, normed_.data() + t * d);
  });
  matmul_shared_input(*pool_, outputs, normed_.data(), tokens, matmul_scratch_);
}

void Transformer::run_layer(int index, int64_t tokens) {
  const LayerWeights& w = weights_.layers[static_cast<size_t>(index)];
  const int64_t d = config_.embedding_dim, qd = config_.q_dim(), kvd = config_.kv_dim();
  const int64_t ff = config_.feed_forward_dim;
  normed_.resize(static_cast<size_t>(tokens * d));
  q_.resize(static_cast<size_t>(tokens * qd));
  k_.resize(static_cast<size_t>(tokens * kvd));
  v_.resize(static_cast<size_t>(tokens * kvd));
  attention_.resize(static_cast<size_t>(tokens * qd));
  gate_.resize(static_cast<size_t>(tokens * ff));
  up_.resize(static_cast<size_t>(tokens * ff));

  // Attention block.
  const MatmulOutput qkv[] = {{&w.wq, q_.data()}, {&w.wk, k_.data()}, {&w.wv, v_.data()}};
  normed_products(w.attention_norm, qkv, tokens);
  add_bias(q_.data(), w.bq, tokens, qd);
  add_bias(k_.data(), w.bk, tokens, kvd);
  add_bias(v_.data(), w.bv, tokens, kvd);

  const PagedKvLayer kv = cache_.layer(index);
  for_each_token(tokens, [&](int64_t t) {
    rope_.apply(config_.rope, t, q_.data() + t * qd, config_.heads, config_.head_dim);
    store_rotated_kv(kv, places_[static_cast<size_t>(t)], rope_, config_.rope, t, config_.head_dim,
                     k_.data() + t * kvd, v_.data() + t * kvd);
  });
  const AttentionShape shape{config_.heads, config_.kv_heads, config_.head_dim,
                             1.0f / std::sqrt(static_cast<float>(config_.head_dim))};
  paged_attention(*pool_, shape, kv, q_.data(), places_.data(), tokens, attention_.data());
  matmul(w.wo, attention_.data(), tokens, normed_.data());

  // Feed-forward block (SwiGLU), after the attention's residual add.
  for_each_token(
      tokens, [&](int64_t t) { add_in_place(hidden_.data() + t * d, normed_.data() + t * d, d); });
  const MatmulOutput gate_up[] = {{&w.w_gate, gate_.data()}, {&w.w_up, up_.data()}};
  normed_products(w.ffn_norm, gate_up, tokens);
  const MatmulOutput down[] = {{&w.w_down, normed_.data()}};
  if (takes_quantized(down)) {
    quantized_.resize(static_cast<size_t>(tokens * ff / kQK));
    for_each_token(tokens, [&](int64_t t) {
      silu_mul_quantize(gate_.data() + t * ff, up_.data() + t * ff, ff,
                        quantized_.data() + t * ff / kQK);
    });
    matmul_quantized_input(*pool_, down, quantized_.data(), tokens);
  } else {
    for_each_token(tokens,
                   [&](int64_t t) { silu_mul(gate_.data() + t * ff, up_.data() + t * ff, ff); });
    matmul(w.w_down, gate_.data(), tokens, normed_.data());
  }
  for_each_token(
      tokens, [&](int64_t t) { add_in_place(hidden_.data() + t * d, normed_.data() + t * d, d); });
}

}  // namespace troupe
