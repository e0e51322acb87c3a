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
  void run_layer(int index, int64_t tokens);
  // Asks the pool to read ahead the products after layer `index` (the next layer's Q, K and V,
  // or the logits' after the last), over the serial work that ends the layer.
  void read_ahead_next_layer(int index);
  // Whether a step of `tokens` runs the rest of a layer after its attention (O, both residual
  // adds, the feed-forward block) as one region: few tokens, one rank, quantized packed products.
  bool tail_together_fits(const LayerWeights& w, int64_t tokens) const;
  // That region: every thread its share of each product, the norms made by each thread for
  // itself, two barriers, no serial step between the products. Where each hand-over crosses
  // CCDs, single-stream decode +5% (455 -> 478 tok/s, 11-12 alternating rounds); on one CCD
  // the same to +2% (the stealing and the read-ahead it gives up cost about what it saves).
  void run_tail_together(const LayerWeights& w, int64_t tokens);
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
  std::vector<ActivationBlock> ffn_quantized_;        // run_tail_together's down input
  std::vector<std::vector<ActivationBlock>> thread_activations_;  // its threads' own inputs
  std::vector<int32_t> positions_;
  std::vector<TokenPlace> places_;
  std::vector<int64_t> logit_rows_;   // token indices whose logits are wanted
  std::vector<int64_t> hidden_rows_;  // token indices whose final hidden states are wanted
  std::vector<float> final_hidden_;   // their hidden states after the output norm
};

}  // namespace troupe
