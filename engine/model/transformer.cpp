#include "engine/model/transformer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "kernels/cpu/dequantize.hpp"
#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/fused_quantize.hpp"
#include "kernels/cpu/prefetch_lines.hpp"
#include "kernels/cpu/vec_dot.hpp"

namespace troupe {
namespace {

void add_bias(float* x, const float* bias, int64_t tokens, int64_t width) {
  if (!bias) return;
  for (int64_t t = 0; t < tokens; ++t) add_in_place(x + t * width, bias, width);
}

// Before a few tokens' serial work on what a parallel region wrote: the other threads' lines,
// all asked for at once (prefetch_lines.hpp). A prompt's work runs on the pool, each thread
// mostly on the lines it wrote.
void prefetch_for_serial(const std::vector<float>& written, int64_t tokens, int64_t width) {
  if (tokens < Transformer::kParallelTokens)
    prefetch_lines(written.data(), sizeof(float) * tokens * width);
}

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
                         KvShape kv, std::shared_ptr<parallel::Communicator> group)
    : config_(std::move(config)),
      local_(rank_config(config_, weights.shard)),
      weights_(std::move(weights)),
      group_(std::move(group)),
      pool_(std::move(pool)),
      cache_(local_, kv.blocks, kv.block_size, kv.prefault) {
  const ShardSpec& shard = weights_.shard;
  if (!shard.whole() && (!group_ || group_->size() != shard.size || group_->rank() != shard.rank)) {
    throw std::logic_error("Transformer: a shard needs its rank's communicator");
  }
  layers_together_ = layers_fit_together();
}

void Transformer::reduce(std::vector<float>& partial, int64_t tokens) {
  if (group_)
    group_->all_reduce_sum({partial.data(), static_cast<size_t>(tokens * local_.embedding_dim)});
}

void Transformer::compute_logits(int64_t rows) {
  const int64_t vocab = config_.vocab_size;
  const ShardSpec& shard = weights_.shard;
  logits_.resize(static_cast<size_t>(rows * vocab));
  if (shard.whole() || shard.output == OutputSplit::leader) {
    if (weights_.output.rows == 0) return logits_.clear();  // not rank 0: no logits here
    return matmul(weights_.output, normed_.data(), rows, logits_.data());
  }
  // Every rank's share padded to the same width, gathered in rank order, then each row put
  // together from the ranks' pieces.
  const int64_t share = output_rows(vocab, {0, shard.size}).count;
  rank_logits_.assign(static_cast<size_t>(rows * share), 0.0f);
  if (weights_.output.rows > 0) {
    if (weights_.output.rows == share) {
      matmul(weights_.output, normed_.data(), rows, rank_logits_.data());
    } else {  // the last rank's shorter share: computed apart, then padded
      gathered_logits_.resize(static_cast<size_t>(rows * weights_.output.rows));
      matmul(weights_.output, normed_.data(), rows, gathered_logits_.data());
      for (int64_t r = 0; r < rows; ++r)
        std::copy_n(gathered_logits_.data() + r * weights_.output.rows, weights_.output.rows,
                    rank_logits_.data() + r * share);
    }
  }
  gathered_logits_.resize(static_cast<size_t>(shard.size * rows * share));
  group_->all_gather(rank_logits_, gathered_logits_);
  for (int rank = 0; rank < shard.size; ++rank) {
    const ShardRange mine = output_rows(vocab, {rank, shard.size});
    for (int64_t r = 0; r < rows; ++r)
      std::copy_n(gathered_logits_.data() + (rank * rows + r) * share, mine.count,
                  logits_.data() + r * vocab + mine.first);
  }
}

void Transformer::matmul(const WeightMatrix& w, const float* x, int64_t tokens, float* y) {
  troupe::matmul(*pool_, w, x, tokens, y, matmul_scratch_);
}

parallel::RankStats Transformer::own_stats() const {
  if (!group_) return {};
  return {weights_.shard.rank, steps_, step_seconds_, step_collective_seconds_, group_->stats()};
}

std::span<const float> Transformer::forward(std::span<const SequenceChunk> batch) {
  ++steps_;
  struct AddTime {  // however the step ends
    Transformer& pass;
    const std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    const double collective_start = pass.group_ ? pass.group_->stats().seconds : 0;
    ~AddTime() {
      pass.step_seconds_ +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (pass.group_)
        pass.step_collective_seconds_ += pass.group_->stats().seconds - collective_start;
    }
  } add_time{*this};
  const int64_t d = config_.embedding_dim;
  int64_t tokens = 0;
  for (const auto& chunk : batch) tokens += static_cast<int64_t>(chunk.tokens.size());

  positions_.clear();
  places_.clear();
  logit_rows_.clear();
  hidden_rows_.clear();
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
      if (chunk.hidden) hidden_rows_.push_back(static_cast<int64_t>(places_.size()) - 1);
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

  size_activations(tokens);
  if (runs_together(tokens)) {
    run_layers_together(tokens);
  } else {
    for (int layer = 0; layer < config_.layers; ++layer) run_layer(layer, tokens);
  }

  final_hidden_.resize(hidden_rows_.size() * static_cast<size_t>(d));
  for (size_t r = 0; r < hidden_rows_.size(); ++r) {
    rms_norm(hidden_.data() + hidden_rows_[r] * d, weights_.output_norm, config_.rms_eps, d,
             final_hidden_.data() + static_cast<int64_t>(r) * d);
  }
  // Final norm and the output projection, only for the rows whose logits are wanted.
  const auto rows = static_cast<int64_t>(logit_rows_.size());
  normed_.resize(static_cast<size_t>(rows * d));
  for (int64_t r = 0; r < rows; ++r) {
    rms_norm(hidden_.data() + logit_rows_[static_cast<size_t>(r)] * d, weights_.output_norm,
             config_.rms_eps, d, normed_.data() + r * d);
  }
  compute_logits(rows);
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

void Transformer::size_activations(int64_t tokens) {
  const int64_t d = local_.embedding_dim, qd = local_.q_dim(), kvd = local_.kv_dim();
  const int64_t ff = local_.feed_forward_dim;
  normed_.resize(static_cast<size_t>(tokens * d));
  q_.resize(static_cast<size_t>(tokens * qd));
  k_.resize(static_cast<size_t>(tokens * kvd));
  v_.resize(static_cast<size_t>(tokens * kvd));
  attention_.resize(static_cast<size_t>(tokens * qd));
  gate_.resize(static_cast<size_t>(tokens * ff));
  up_.resize(static_cast<size_t>(tokens * ff));
}

AttentionShape Transformer::attention_shape() const {
  return {local_.heads, local_.kv_heads, local_.head_dim,
          1.0f / std::sqrt(static_cast<float>(local_.head_dim))};
}

void Transformer::run_layer(int index, int64_t tokens) {
  const LayerWeights& w = weights_.layers[static_cast<size_t>(index)];
  const int64_t d = local_.embedding_dim, qd = local_.q_dim(), kvd = local_.kv_dim();
  const int64_t ff = local_.feed_forward_dim;

  // Attention block.
  const MatmulOutput qkv[] = {{&w.wq, q_.data()}, {&w.wk, k_.data()}, {&w.wv, v_.data()}};
  normed_products(w.attention_norm, qkv, tokens);
  const MatmulOutput o[] = {{&w.wo, normed_.data()}};
  read_ahead_products(*pool_, o);
  prefetch_for_serial(q_, tokens, qd);  // before the biases: their loops are the first readers
  prefetch_for_serial(k_, tokens, kvd);
  prefetch_for_serial(v_, tokens, kvd);
  add_bias(q_.data(), w.bq, tokens, qd);
  add_bias(k_.data(), w.bk, tokens, kvd);
  add_bias(v_.data(), w.bv, tokens, kvd);

  const PagedKvLayer kv = cache_.layer(index);
  for_each_token(tokens, [&](int64_t t) {
    rope_.apply(local_.rope, t, q_.data() + t * qd, local_.heads, local_.head_dim);
    store_rotated_kv(kv, places_[static_cast<size_t>(t)], rope_, local_.rope, t,
                     k_.data() + t * kvd, v_.data() + t * kvd);
  });
  paged_attention(*pool_, attention_shape(), kv, q_.data(), places_.data(), tokens,
                  attention_.data());
  matmul(w.wo, attention_.data(), tokens, normed_.data());
  const MatmulOutput gate_up[] = {{&w.w_gate, gate_.data()}, {&w.w_up, up_.data()}};
  read_ahead_products(*pool_, gate_up);
  reduce(normed_, tokens);
  prefetch_for_serial(normed_, tokens, d);

  // Feed-forward block (SwiGLU), after the attention's residual add.
  for_each_token(
      tokens, [&](int64_t t) { add_in_place(hidden_.data() + t * d, normed_.data() + t * d, d); });
  normed_products(w.ffn_norm, gate_up, tokens);
  const MatmulOutput down[] = {{&w.w_down, normed_.data()}};
  read_ahead_products(*pool_, down);
  prefetch_for_serial(gate_, tokens, ff);
  prefetch_for_serial(up_, tokens, ff);
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
  read_ahead_next_layer(index);
  reduce(normed_, tokens);
  prefetch_for_serial(normed_, tokens, d);
  for_each_token(
      tokens, [&](int64_t t) { add_in_place(hidden_.data() + t * d, normed_.data() + t * d, d); });
}

void Transformer::read_ahead_next_layer(int index) {
  if (index + 1 == config_.layers) {
    const MatmulOutput output[] = {{&weights_.output, nullptr}};
    if (weights_.output.rows > 0) read_ahead_products(*pool_, output);
    return;
  }
  const LayerWeights& next = weights_.layers[static_cast<size_t>(index) + 1];
  const MatmulOutput qkv[] = {{&next.wq, nullptr}, {&next.wk, nullptr}, {&next.wv, nullptr}};
  read_ahead_products(*pool_, qkv);
}

}  // namespace troupe
