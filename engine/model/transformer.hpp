#pragma once
// The forward pass of a Llama-family decoder over a paged KV cache. One call runs every token
// of every scheduled sequence together — prefill chunks and single decode tokens mixed — so each
// weight matrix is read once per step for the whole batch.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "engine/kv/kv_cache.hpp"
#include "engine/model/model_config.hpp"
#include "engine/model/model_weights.hpp"
#include "kernels/cpu/matmul.hpp"
#include "kernels/cpu/paged_attention.hpp"
#include "kernels/cpu/rope.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace troupe {

// Which rows of a chunk's logits a step returns.
enum class ChunkLogits { last, every, none };

// The slice of one sequence that a step computes: `tokens` at positions start_position, ...
// Its block table must already cover start_position + tokens.size() positions.
struct SequenceChunk {
  std::span<const int32_t> tokens;
  int32_t start_position = 0;
  std::span<const int32_t> block_table;
  ChunkLogits logits = ChunkLogits::last;  // none for a prompt chunk that does not end it
};

class Transformer {
 public:
  Transformer(ModelConfig config, ModelWeights weights, ThreadPool& pool);

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }

  // Runs the batch, writing its K/V into `cache`. Returns logits, vocab_size floats per row, in
  // chunk order: as each chunk's `logits` asks, its last token's row, every token's row or none.
  // The span stays valid until the next call.
  std::span<const float> forward(std::span<const SequenceChunk> batch, KvCache& cache);

 private:
  void run_layer(int index, int64_t tokens, KvCache& cache);
  void matmul(const WeightMatrix& w, const float* x, int64_t tokens, float* y);
  // outputs = W (rms_norm(hidden_) * norm_weight) for every W of `outputs`, fused with the
  // activations' quantization when every W takes 8-bit activations.
  void normed_products(const float* norm_weight, std::span<const MatmulOutput> outputs,
                       int64_t tokens);
  // fn(t) for every token of the batch, over the pool when the batch is big enough to gain.
  void for_each_token(int64_t tokens, const std::function<void(int64_t)>& fn);

  ModelConfig config_;
  ModelWeights weights_;
  ThreadPool& pool_;
  RopeTable rope_;
  MatmulScratch matmul_scratch_;
  // Activations of the current batch, [tokens][width].
  std::vector<float> hidden_, normed_, q_, k_, v_, attention_, gate_, up_, logits_;
  std::vector<ActivationBlock> quantized_;  // a fused activation, [tokens][width / 32]
  std::vector<int32_t> positions_;
  std::vector<TokenPlace> places_;
  std::vector<int64_t> logit_rows_;  // token indices whose logits are wanted
};

}  // namespace troupe
