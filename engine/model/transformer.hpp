#pragma once
// The CPU forward pass of a Llama-family decoder over a paged KV cache it owns. One call runs
// every token of every scheduled sequence together — prefill chunks and single decode tokens
// mixed — so each weight matrix is read once per step for the whole batch.
// A tensor-parallel rank runs the same pass over its shard (shard_spec.hpp): its heads' KV cache,
// an all-reduce after the attention's output projection and one after the feed-forward's down
// projection, and its share of the logits gathered (or rank 0's alone). Every rank of the group
// must run forward() on the same batch at the same time.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "engine/device/forward_pass.hpp"
#include "engine/kv/kv_cache.hpp"
#include "engine/model/model_config.hpp"
#include "engine/model/model_weights.hpp"
#include "engine/parallel/communicator.hpp"
#include "kernels/cpu/matmul.hpp"
#include "kernels/cpu/paged_attention.hpp"
#include "kernels/cpu/rope.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace troupe {

class Transformer final : public ForwardPass {
 public:
  // Below this many tokens, per-token work is cheaper on one thread than a parallel region: a
  // step run layer by layer does it on the caller; a step that fits runs its layers together.
  static constexpr int64_t kParallelTokens = 4;

  // The pool may be shared with other passes that never run at the same time. A shard's weights
  // need the group's communicator (the rank's place in it matches the shard's); the whole
  // model's need none.
  Transformer(ModelConfig config, ModelWeights weights, std::shared_ptr<ThreadPool> pool,
              KvShape kv, std::shared_ptr<parallel::Communicator> group = nullptr);

  const ModelConfig& config() const override { return config_; }
  KvShape kv_shape() const override {
    return {cache_.blocks(), cache_.block_size(), cache_.prefaulted()};
  }
  // On a rank of a group with OutputSplit::leader, only rank 0 returns logits (others: none).
  std::span<const float> forward(std::span<const SequenceChunk> batch) override;
  std::span<const float> hidden_states() const override { return final_hidden_; }
  void copy_block(int32_t from, int32_t to) override { cache_.copy_block(from, to); }
  void wait_kv_faulted() override { cache_.wait_faulted(); }
  ThreadPool* host_threads() override { return pool_.get(); }
  parallel::RankStats own_stats() const override;

 private:
  // The step's activation buffers, [tokens][width] each.
  void size_activations(int64_t tokens);
  AttentionShape attention_shape() const;
  void run_layer(int index, int64_t tokens);
  // Asks the pool to read ahead the products after layer `index` (the next layer's Q, K and V,
  // or the logits' after the last), over the serial work that ends the layer.
  void read_ahead_next_layer(int index);
  // transformer_together.cpp: a step of few tokens with every layer in one region of the pool.
  // Each thread computes its share of every product, rotates and stores the heads it computed,
  // attends its pieces, and norms and quantizes each product's input for itself; the threads meet
  // at barriers (four or five a layer) where the caller's serial work between two or three
  // regions a layer was.
  // Whether every layer can: packed products over quantized activations, heads of whole row
  // groups, one rank. Decided once, at load.
  bool layers_fit_together() const;
  bool runs_together(int64_t tokens) const;
  void run_layers_together(int64_t tokens);
  struct Part {
    int64_t begin = 0, end = 0;
  };
  // One thread's parts of every layer (all layers have the same shapes): heads of Q, K and V;
  // row groups of O, gate and up, and down; gate's and up's quantization blocks; pieces of the
  // attention and their folds.
  struct ThreadShares {
    int thread = 0;
    Part q_heads, k_heads, v_heads, o, ffn_blocks, gate_up, down, pieces, folds;
  };
  ThreadShares thread_shares(int thread, int threads) const;
  // The bytes of groups `groups` of a packed matrix: what a thread's share of its product reads.
  static std::span<const std::byte> bytes_of(const WeightMatrix& m, Part groups);
  // The row groups of matrix `m` (Q, K or V) that hold `heads`.
  Part head_groups(const WeightMatrix& m, Part heads) const;
  // The residual's rows normed and quantized into `x`, a thread's own input of the next products.
  void norm_into(const float* norm_weight, int64_t tokens, std::vector<ActivationBlock>& x) const;
  // Q, K and V: the layer's norm, the thread's heads of the three products, each rotated and
  // stored as soon as computed.
  void attention_inputs_share(const LayerWeights& w, const PagedKvLayer& kv, int64_t tokens,
                              const ThreadShares& mine, int threads);
  // O, both residual adds and the feed-forward block, with two barriers inside.
  void tail_share(const LayerWeights& w, int64_t tokens, const ThreadShares& mine, int threads);
  void matmul(const WeightMatrix& w, const float* x, int64_t tokens, float* y);
  // outputs = W (rms_norm(hidden_) * norm_weight) for every W of `outputs`, fused with the
  // activations' quantization when every W takes 8-bit activations.
  void normed_products(const float* norm_weight, std::span<const MatmulOutput> outputs,
                       int64_t tokens);
  // fn(t) for every token of the batch, over the pool when the batch is big enough to gain.
  void for_each_token(int64_t tokens, const std::function<void(int64_t)>& fn);
  // A row-parallel product's partial sums, added over the group (nothing when whole).
  void reduce(std::vector<float>& partial, int64_t tokens);
  // The logits of the rows normed_ holds: this rank's rows of the vocabulary, gathered.
  void compute_logits(int64_t rows);

  ModelConfig config_;  // the whole model's
  ModelConfig local_;   // what this rank computes: its heads and features (rank_config)
  ModelWeights weights_;
  std::shared_ptr<parallel::Communicator> group_;
  int64_t steps_ = 0;
  double step_seconds_ = 0;
  double step_collective_seconds_ = 0;
  std::shared_ptr<ThreadPool> pool_;
  KvCache cache_;
  RopeTable rope_;
  MatmulScratch matmul_scratch_;
  // Activations of the current batch, [tokens][width].
  std::vector<float> hidden_, normed_, q_, k_, v_, attention_, gate_, up_, logits_;
  std::vector<float> rank_logits_, gathered_logits_;  // a group's vocabulary-parallel output
  std::vector<ActivationBlock> quantized_;            // a fused activation, [tokens][width / 32]
  std::vector<ActivationBlock> ffn_quantized_;        // tail_share's down input
  std::vector<std::vector<ActivationBlock>> thread_activations_;  // its threads' own inputs
  bool layers_together_ = false;                                  // layers_fit_together(), at load
  AttentionPieces attention_pieces_;  // run_layers_together's, planned once a step
  std::vector<int32_t> positions_;
  std::vector<TokenPlace> places_;
  std::vector<int64_t> logit_rows_;   // token indices whose logits are wanted
  std::vector<int64_t> hidden_rows_;  // token indices whose final hidden states are wanted
  std::vector<float> final_hidden_;   // their hidden states after the output norm
};

}  // namespace troupe
