// A decode step's layers as one region of the pool (Transformer::run_layers_together): every
// thread its share of each product, of the heads' rotation and stores and of the attention;
// each product's input normed and quantized by every thread for itself; the threads meet at
// barriers, and a thread that waits at one reads ahead what it reads next.
#include <algorithm>

#include "engine/model/transformer.hpp"
#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/fused_quantize.hpp"
#include "kernels/cpu/vec_dot.hpp"

namespace troupe {

std::span<const std::byte> Transformer::bytes_of(const WeightMatrix& m, Part groups) {
  return m.packed->bytes_of_groups(groups.begin, groups.end);
}

bool Transformer::layers_fit_together() const {
  if (group_) return false;
  const int64_t d = local_.embedding_dim, qd = local_.q_dim(), ff = local_.feed_forward_dim;
  if (d % kQK != 0 || qd % kQK != 0 || ff % kQK != 0) return false;
  for (const LayerWeights& w : weights_.layers) {
    for (const WeightMatrix* m : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down}) {
      if (!m->packed || !has_quantized_dot(m->type)) return false;
    }
    // Heads of whole row groups, for Q, K and V; gate's and up's quantization blocks too.
    for (const WeightMatrix* m : {&w.wq, &w.wk, &w.wv}) {
      if (local_.head_dim % m->packed->rows_per_group() != 0) return false;
    }
    const int64_t rows = w.w_gate.packed->rows_per_group();
    if (w.w_up.packed->rows_per_group() != rows || kQK % rows != 0) return false;
  }
  return true;
}

bool Transformer::runs_together(int64_t tokens) const {
  return layers_together_ && tokens < kParallelTokens && pool_->size() > 1;
}

Transformer::Part Transformer::head_groups(const WeightMatrix& m, Part heads) const {
  const int64_t per_head = local_.head_dim / m.packed->rows_per_group();
  return {heads.begin * per_head, heads.end * per_head};
}

Transformer::ThreadShares Transformer::thread_shares(int thread, int threads) const {
  const auto share = [&](int64_t count) {
    return Part{count * thread / threads, count * (thread + 1) / threads};
  };
  // The heads of Q, then of K, then of V, as one list shared out in order: a thread rotates and
  // stores the heads it computed, with no barrier between. Rounded up for the first threads,
  // where the attention's pieces are rounded up for the last (a lone sequence's 15 heads and 3
  // pieces on 2 threads: 8 and 1 against 7 and 2, not 7 and 1 against 8 and 2).
  const int heads = local_.heads, kv_heads = local_.kv_heads;
  const int64_t count = heads + 2 * kv_heads;
  const auto rounded_up = [&](int k) { return (count * k + threads - 1) / threads; };
  const Part units{rounded_up(thread), rounded_up(thread + 1)};
  const auto mine = [&](int64_t first, int64_t n) {  // of the n heads from unit `first` on
    return Part{std::clamp(units.begin - first, int64_t{0}, n),
                std::clamp(units.end - first, int64_t{0}, n)};
  };
  const LayerWeights& w = weights_.layers.front();  // every layer's shapes are the same
  const int64_t per_block = kQK / w.w_gate.packed->rows_per_group();
  const Part blocks = share(local_.feed_forward_dim / kQK);
  return ThreadShares{.thread = thread,
                      .q_heads = mine(0, heads),
                      .k_heads = mine(heads, kv_heads),
                      .v_heads = mine(heads + kv_heads, kv_heads),
                      .o = share(w.wo.packed->groups()),
                      .ffn_blocks = blocks,
                      .gate_up = {blocks.begin * per_block, blocks.end * per_block},
                      .down = share(w.w_down.packed->groups()),
                      .pieces = share(attention_pieces_.pieces()),
                      .folds = share(attention_pieces_.folds())};
}

void Transformer::run_layers_together(int64_t tokens) {
  ffn_quantized_.resize(static_cast<size_t>(tokens * local_.feed_forward_dim / kQK));
  thread_activations_.resize(static_cast<size_t>(pool_->size()));
  attention_pieces_.plan(attention_shape(), cache_.block_size(), places_.data(), tokens,
                         pool_->size());
  pool_->run([&](int thread, int threads) {
    const ThreadShares mine = thread_shares(thread, threads);
    for (int index = 0; index < config_.layers; ++index) {
      const LayerWeights& w = weights_.layers[static_cast<size_t>(index)];
      const PagedKvLayer kv = cache_.layer(index);
      attention_inputs_share(w, kv, tokens, mine, threads);
      // Past each barrier: every head's K and V stored; the attention's rows all written.
      const std::span<const std::byte> o_on[] = {
          bytes_of(w.wo, mine.o), bytes_of(w.w_gate, mine.gate_up), bytes_of(w.w_up, mine.gate_up)};
      pool_->arrive_and_wait(o_on);
      attention_pieces_.attend(kv, q_.data(), attention_.data(), mine.pieces.begin,
                               mine.pieces.end);
      if (attention_pieces_.folds() > 0) {
        pool_->arrive_and_wait(o_on);  // every chunk's state left
        attention_pieces_.fold(attention_.data(), mine.folds.begin, mine.folds.end);
      }
      pool_->arrive_and_wait(o_on);
      tail_share(w, tokens, mine, threads);
      // The residual's rows all added; meanwhile the next layer's Q, K and V.
      if (index + 1 == config_.layers) {
        pool_->arrive_and_wait();
        continue;
      }
      const LayerWeights& next = weights_.layers[static_cast<size_t>(index) + 1];
      const std::span<const std::byte> qkv_on[] = {
          bytes_of(next.wq, head_groups(next.wq, mine.q_heads)),
          bytes_of(next.wk, head_groups(next.wk, mine.k_heads)),
          bytes_of(next.wv, head_groups(next.wv, mine.v_heads))};
      pool_->arrive_and_wait(qkv_on);
    }
  });
  read_ahead_next_layer(config_.layers - 1);
}

void Transformer::norm_into(const float* norm_weight, int64_t tokens,
                            std::vector<ActivationBlock>& x) const {
  const int64_t d = local_.embedding_dim;
  x.resize(static_cast<size_t>(tokens * d / kQK));
  for (int64_t t = 0; t < tokens; ++t) {
    rms_norm_quantize(hidden_.data() + t * d, norm_weight, config_.rms_eps, d,
                      x.data() + t * d / kQK);
  }
}

void Transformer::attention_inputs_share(const LayerWeights& w, const PagedKvLayer& kv,
                                         int64_t tokens, const ThreadShares& mine, int threads) {
  const int64_t qd = local_.q_dim(), kvd = local_.kv_dim();
  const int hd = local_.head_dim;
  std::vector<ActivationBlock>& x = thread_activations_[static_cast<size_t>(mine.thread)];
  norm_into(w.attention_norm, tokens, x);
  const auto product = [&](const WeightMatrix& m, float* y, Part heads) {
    const Part groups = head_groups(m, heads);
    packed_product_share(m, x.data(), tokens, y, groups.begin, groups.end, threads);
  };
  product(w.wq, q_.data(), mine.q_heads);
  product(w.wk, k_.data(), mine.k_heads);
  product(w.wv, v_.data(), mine.v_heads);
  const auto add_own_bias = [&](const float* bias, float* row, Part heads) {
    if (bias && heads.end > heads.begin) {
      add_in_place(row + heads.begin * hd, bias + heads.begin * hd, (heads.end - heads.begin) * hd);
    }
  };
  for (int64_t t = 0; t < tokens; ++t) {
    float* q = q_.data() + t * qd;
    float* k = k_.data() + t * kvd;
    float* v = v_.data() + t * kvd;
    add_own_bias(w.bq, q, mine.q_heads);
    add_own_bias(w.bk, k, mine.k_heads);
    add_own_bias(w.bv, v, mine.v_heads);
    const Part qh = mine.q_heads, kh = mine.k_heads, vh = mine.v_heads;
    rope_.apply(local_.rope, t, q + qh.begin * hd, static_cast<int>(qh.end - qh.begin), hd);
    const TokenPlace& place = places_[static_cast<size_t>(t)];
    store_rotated_key_heads(kv, place, rope_, local_.rope, t, k, static_cast<int>(kh.begin),
                            static_cast<int>(kh.end));
    store_value_heads(kv, place, v, static_cast<int>(vh.begin), static_cast<int>(vh.end));
  }
}

void Transformer::tail_share(const LayerWeights& w, int64_t tokens, const ThreadShares& mine,
                             int threads) {
  const int64_t d = local_.embedding_dim, qd = local_.q_dim(), ff = local_.feed_forward_dim;
  const int64_t blocks = ff / kQK;
  std::vector<ActivationBlock>& x = thread_activations_[static_cast<size_t>(mine.thread)];
  // Groups of a d-row product into normed_, then those rows added into the residual by the
  // thread that computed them.
  const auto product_into_residual = [&](const WeightMatrix& m, const ActivationBlock* input,
                                         Part groups) {
    packed_product_share(m, input, tokens, normed_.data(), groups.begin, groups.end, threads);
    const int64_t rows = m.packed->rows_per_group();
    const int64_t first = groups.begin * rows;
    for (int64_t t = 0; t < tokens; ++t) {
      add_in_place(hidden_.data() + t * d + first, normed_.data() + t * d + first,
                   (groups.end - groups.begin) * rows);
    }
  };
  // O, from the attention output each thread quantizes for itself: no hand-over.
  x.resize(static_cast<size_t>(tokens * qd / kQK));
  for (int64_t t = 0; t < tokens; ++t) {
    quantize_activations(attention_.data() + t * qd, x.data() + t * qd / kQK, qd);
  }
  product_into_residual(w.wo, x.data(), mine.o);
  const std::span<const std::byte> gate_up_on[] = {bytes_of(w.w_gate, mine.gate_up),
                                                   bytes_of(w.w_up, mine.gate_up),
                                                   bytes_of(w.w_down, mine.down)};
  pool_->arrive_and_wait(gate_up_on);
  // The feed-forward input: the whole row normed and quantized by each thread for itself.
  norm_into(w.ffn_norm, tokens, x);
  // Gate's and up's rows of whole quantization blocks, each a run of its matrix, then
  // silu(gate) * up of those rows, quantized for down.
  packed_product_share(w.w_gate, x.data(), tokens, gate_.data(), mine.gate_up.begin,
                       mine.gate_up.end, threads);
  packed_product_share(w.w_up, x.data(), tokens, up_.data(), mine.gate_up.begin, mine.gate_up.end,
                       threads);
  const auto [first, end] = mine.ffn_blocks;
  for (int64_t t = 0; t < tokens && end > first; ++t) {
    silu_mul_quantize(gate_.data() + t * ff + first * kQK, up_.data() + t * ff + first * kQK,
                      (end - first) * kQK, ffn_quantized_.data() + t * blocks + first);
  }
  const std::span<const std::byte> down_on[] = {bytes_of(w.w_down, mine.down)};
  pool_->arrive_and_wait(down_on);
  product_into_residual(w.w_down, ffn_quantized_.data(), mine.down);
}

}  // namespace troupe
