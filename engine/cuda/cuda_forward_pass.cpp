#include "engine/cuda/cuda_forward_pass.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/cuda/device_weights.hpp"
#include "engine/device/step_indices.hpp"
#include "engine/kv/kv_cache.hpp"
#include "kernels/cpu/rope.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "kernels/cuda/cuda_stream.hpp"
#include "kernels/cuda/device_buffer.hpp"
#include "kernels/cuda/elementwise.hpp"
#include "kernels/cuda/paged_attention.hpp"
#include "kernels/cuda/pinned_buffer.hpp"
#include "kernels/cuda/step_graphs.hpp"
#include "kernels/cuda/weight_products.hpp"

namespace troupe {
namespace {

using cuda::DeviceBuffer;

// Tokens a step's activations are sized for at load, and rows of logits; a bigger step grows them.
constexpr int64_t kReservedTokens = 512;
constexpr int64_t kReservedRows = 64;
// Blocks a decode-sized step's token and head spread their positions over (flash-decoding).
constexpr int kDecodeSplits = 8;

std::string gib(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GiB", static_cast<double>(bytes) / (1 << 30));
  return text;
}

// Values of the model's largest matrix (the batched path's F16 scratch is sized by it).
int64_t largest_matrix_values(const ModelWeights& weights) {
  int64_t largest = 0;
  for_each_step_matrix(
      weights, [&largest](const WeightMatrix& m) { largest = std::max(largest, m.rows * m.cols); });
  return largest;
}

// Floats of activations a step of `tokens` tokens needs, every buffer together.
int64_t activation_floats(const ModelConfig& c, int64_t tokens) {
  return tokens * (3 * c.embedding_dim + 2 * c.q_dim() + 2 * c.kv_dim() + 2 * c.feed_forward_dim) +
         kReservedRows * c.vocab_size;
}

class CudaForwardPass final : public ForwardPass {
 public:
  CudaForwardPass(const ModelConfig& config, const ModelWeights& weights, KvShape kv,
                  const CudaPassOptions& options)
      : config_(config),
        kv_(kv),
        stream_(owned_stream_.get()),
        use_graphs_(options.graphs),
        host_threads_(std::make_unique<ThreadPool>(options.host_threads, false)) {
    products_ = std::make_unique<cuda::WeightProducts>(stream_);
    weights_ = upload_weights(config_, weights);
    layer_values_ = static_cast<int64_t>(kv_.blocks) * kv_.block_size * config_.kv_dim();
    cache_.resize(static_cast<size_t>(layer_values_ * 2 * config_.layers));
    make_room(kReservedTokens, kReservedRows, kReservedTokens);
    attention_partials_.resize(static_cast<size_t>(cuda::attention_partial_floats(
        cuda::kGemvMaxTokens, {config_.heads, config_.kv_heads, config_.head_dim}, kDecodeSplits)));
    products_->reserve(largest_matrix_values(weights), kReservedTokens * config_.feed_forward_dim);
  }
  const ModelConfig& config() const override { return config_; }
  KvShape kv_shape() const override { return kv_; }
  std::span<const float> forward(std::span<const SequenceChunk> batch) override;
  std::span<const float> hidden_states() const override { return final_hidden_.span(); }
  void copy_block(int32_t from, int32_t to) override;
  ThreadPool* host_threads() override { return host_threads_.get(); }

 private:
  uint16_t* keys(int layer) { return cache_.data() + 2 * layer * layer_values_; }
  uint16_t* values(int layer) { return keys(layer) + layer_values_; }
  // Grows the buffers a step of this size needs; a move of any of them bumps layout_version_.
  void make_room(int64_t tokens, int64_t logit_rows, int64_t table_entries);
  void upload(const StepIndices& step);
  // The step's kernels up to its logits (what a graph captures).
  void compute(int tokens, int logit_rows);
  void run_layer(int index, int tokens);
  const int32_t* indices(int64_t offset) const { return step_dev_.data() + offset; }

  ModelConfig config_;
  KvShape kv_;
  cuda::CudaStream owned_stream_;  // before what queues work on it, so it outlives them
  cudaStream_t stream_;
  bool use_graphs_;
  std::unique_ptr<ThreadPool> host_threads_;  // the sampler's, between steps
  std::unique_ptr<cuda::WeightProducts> products_;
  DeviceWeights weights_;
  int64_t layer_values_ = 0;      // halves of one layer's keys (and of its values)
  DeviceBuffer<uint16_t> cache_;  // per layer: keys, then values
  DeviceBuffer<float> hidden_, normed_, q_, k_, v_, attention_, gate_, up_, logits_dev_;
  DeviceBuffer<float> attention_partials_;  // a decode-sized step's splits (fixed size)
  // The step's indices (layout_) and RoPE tables: cos for layout_.tokens tokens, then sin.
  IndexLayout layout_;
  int64_t logit_capacity_ = 0;
  uint64_t layout_version_ = 0;
  DeviceBuffer<int32_t> step_dev_;
  DeviceBuffer<float> rope_dev_;
  cuda::StepGraphs graphs_;
  std::vector<int32_t> step_host_;
  RopeTable rope_;
  cuda::PinnedBuffer<float> logits_, final_hidden_;  // what forward() returns, page-locked
};

void CudaForwardPass::make_room(int64_t tokens, int64_t logit_rows, int64_t table_entries) {
  const ModelConfig& c = config_;
  const bool more_tokens = tokens > layout_.tokens, more_tables = table_entries > layout_.tables;
  const bool more_rows = logit_rows > logit_capacity_;
  if (!more_tokens && !more_tables && !more_rows) return;
  // Every graph is stale from here, even if an allocation below fails half way.
  ++layout_version_;
  IndexLayout grown = layout_;
  if (more_tokens) {
    // Geometric growth: a longer prefill now and then does not move everything each time.
    grown.tokens = std::max(tokens, 2 * layout_.tokens);
    const auto n = [&](int64_t width) { return static_cast<size_t>(grown.tokens * width); };
    for (auto* b : {&hidden_, &normed_}) b->reserve(n(c.embedding_dim));
    for (auto* b : {&q_, &attention_}) b->reserve(n(c.q_dim()));
    for (auto* b : {&k_, &v_}) b->reserve(n(c.kv_dim()));
    for (auto* b : {&gate_, &up_}) b->reserve(n(c.feed_forward_dim));
    rope_dev_.reserve(static_cast<size_t>(2 * grown.tokens * (c.rope.rotary_dims / 2)));
  }
  if (more_tables) grown.tables = std::max(table_entries, 2 * layout_.tables);
  step_dev_.reserve(static_cast<size_t>(grown.size()));
  layout_ = grown;  // only once everything it needs is there
  if (more_rows) {
    logits_dev_.reserve(static_cast<size_t>(logit_rows * c.vocab_size));
    logit_capacity_ = logit_rows;
  }
}

void CudaForwardPass::upload(const StepIndices& step) {
  pack(step, layout_, step_host_);
  cuda::check(cudaMemcpyAsync(step_dev_.data(), step_host_.data(),
                              step_host_.size() * sizeof(int32_t), cudaMemcpyHostToDevice, stream_),
              "uploading the step");
  const auto tokens = static_cast<int64_t>(step.ids.size());
  rope_.compute(config_.rope, step.positions.data(), tokens);
  const int64_t pairs = config_.rope.rotary_dims / 2;
  float* cos = rope_dev_.data();
  for (const auto& [table, at] :
       {std::pair{rope_.cosines(), cos}, std::pair{rope_.sines(), cos + layout_.tokens * pairs}}) {
    cuda::check(cudaMemcpyAsync(at, table.data(), table.size() * sizeof(float),
                                cudaMemcpyHostToDevice, stream_),
                "uploading the step");
  }
}

std::span<const float> CudaForwardPass::forward(std::span<const SequenceChunk> batch) {
  const StepIndices step = step_indices(batch, kv_.block_size, kv_.blocks, config_.vocab_size);
  const auto tokens = static_cast<int>(step.ids.size());
  const auto rows = static_cast<int>(step.logit_rows.size());
  const auto hidden_rows = static_cast<int>(step.hidden_rows.size());
  logits_.fill(0);
  final_hidden_.fill(0);
  if (tokens == 0) return logits_.span();
  make_room(tokens, rows, static_cast<int64_t>(step.tables.size()));
  upload(step);
  // Decode-sized steps (the GEMV path throughout) replay a graph per (tokens, logit rows).
  if (use_graphs_ && tokens <= cuda::kGemvMaxTokens && hidden_rows == 0) {
    graphs_.run(stream_, tokens * (cuda::kGemvMaxTokens + 1) + rows, layout_version_,
                [&] { compute(tokens, rows); });
  } else {
    compute(tokens, rows);
  }
  const int d = config_.embedding_dim;
  if (hidden_rows > 0) {
    float* hidden = final_hidden_.fill(static_cast<size_t>(hidden_rows) * d);
    cuda::rms_norm(stream_, hidden_.data(), indices(layout_.hidden_rows()), hidden_rows,
                   weights_.output_norm, config_.rms_eps, d, normed_.data());
    cuda::check(cudaMemcpyAsync(hidden, normed_.data(), final_hidden_.span().size_bytes(),
                                cudaMemcpyDeviceToHost, stream_),
                "reading hidden states");
  }
  float* logits = logits_.fill(static_cast<size_t>(rows) * config_.vocab_size);
  if (rows > 0) {
    cuda::check(cudaMemcpyAsync(logits, logits_dev_.data(), logits_.span().size_bytes(),
                                cudaMemcpyDeviceToHost, stream_),
                "reading logits");
  }
  cuda::check(cudaStreamSynchronize(stream_), "the forward pass");
  return logits_.span();
}

void CudaForwardPass::compute(int tokens, int rows) {
  cuda::embed_rows(stream_, weights_.token_embedding, indices(layout_.ids()), tokens,
                   hidden_.data());
  for (int layer = 0; layer < config_.layers; ++layer) run_layer(layer, tokens);
  if (rows == 0) return;
  cuda::rms_norm(stream_, hidden_.data(), indices(layout_.logit_rows()), rows, weights_.output_norm,
                 config_.rms_eps, config_.embedding_dim, normed_.data());
  products_->run(weights_.output, normed_.data(), rows, logits_dev_.data());
}

void CudaForwardPass::run_layer(int index, int tokens) {
  const DeviceLayer& w = weights_.layers[static_cast<size_t>(index)];
  const ModelConfig& c = config_;
  const int d = c.embedding_dim, qd = c.q_dim(), kvd = c.kv_dim(), ff = c.feed_forward_dim;

  cuda::rms_norm(stream_, hidden_.data(), nullptr, tokens, w.attention_norm, c.rms_eps, d,
                 normed_.data());
  products_->run({{&w.wq, q_.data()}, {&w.wk, k_.data()}, {&w.wv, v_.data()}}, normed_.data(),
                 tokens);
  if (w.bq) cuda::add_bias(stream_, q_.data(), w.bq, tokens, qd);
  if (w.bk) cuda::add_bias(stream_, k_.data(), w.bk, tokens, kvd);
  if (w.bv) cuda::add_bias(stream_, v_.data(), w.bv, tokens, kvd);

  const float* cos = rope_dev_.data();
  const float* sin = cos + layout_.tokens * (c.rope.rotary_dims / 2);
  cuda::rotate(stream_, q_.data(), tokens, c.heads, c.head_dim, qd, c.rope.style,
               c.rope.rotary_dims, cos, sin);
  cuda::rotate(stream_, k_.data(), tokens, c.kv_heads, c.head_dim, kvd, c.rope.style,
               c.rope.rotary_dims, cos, sin);
  cuda::store_kv(stream_, k_.data(), v_.data(), indices(layout_.slots()), tokens, kvd, keys(index),
                 values(index));
  const cuda::DeviceAttentionShape shape{c.heads, c.kv_heads, c.head_dim, kv_.block_size,
                                         1.0f / std::sqrt(static_cast<float>(c.head_dim))};
  const cuda::AttentionPlaces places{indices(layout_.table_entries()),
                                     indices(layout_.table_start()), indices(layout_.lengths())};
  // Decode-sized steps spread each token's positions over kDecodeSplits blocks (the same for
  // any such batch, so a sequence's result does not depend on its batch).
  const int splits = tokens <= cuda::kGemvMaxTokens ? kDecodeSplits : 1;
  cuda::paged_attention(stream_, shape, q_.data(), places, tokens, keys(index), values(index),
                        attention_.data(), splits, attention_partials_.data());
  products_->run(w.wo, attention_.data(), tokens, normed_.data());
  cuda::add_in_place(stream_, hidden_.data(), normed_.data(), static_cast<int64_t>(tokens) * d);

  cuda::rms_norm(stream_, hidden_.data(), nullptr, tokens, w.ffn_norm, c.rms_eps, d,
                 normed_.data());
  products_->run({{&w.w_gate, gate_.data()}, {&w.w_up, up_.data()}}, normed_.data(), tokens);
  cuda::silu_mul(stream_, gate_.data(), up_.data(), static_cast<int64_t>(tokens) * ff);
  products_->run(w.w_down, gate_.data(), tokens, normed_.data());
  cuda::add_in_place(stream_, hidden_.data(), normed_.data(), static_cast<int64_t>(tokens) * d);
}

void CudaForwardPass::copy_block(int32_t from, int32_t to) {
  if (from < 0 || from >= kv_.blocks || to < 0 || to >= kv_.blocks)
    throw std::logic_error("CudaForwardPass::copy_block: block outside the cache");
  const int64_t block_values = static_cast<int64_t>(kv_.block_size) * config_.kv_dim();
  for (int layer = 0; layer < config_.layers; ++layer) {
    for (uint16_t* base : {keys(layer), values(layer)}) {
      cuda::check(cudaMemcpyAsync(base + to * block_values, base + from * block_values,
                                  static_cast<size_t>(block_values) * sizeof(uint16_t),
                                  cudaMemcpyDeviceToDevice, stream_),
                  "copying a KV block");
    }
  }
}

// What the kernels cannot take, or empty.
std::string unsupported(const ModelConfig& config, const ModelWeights& weights) {
  if (!weights.shard.whole())
    return "tensor parallelism on CUDA is not built yet; use --tensor-parallel-size 1";
  if (!cuda::attention_supports(config.head_dim))
    return "heads of " + std::to_string(config.head_dim) +
           " values (the kernels take multiples "
           "of 32 up to 256)";
  const auto check = [](const WeightMatrix& m) {
    return cuda::device_supports(m.type, m.cols) ? std::string()
                                                 : std::string(dtype_name(m.type)) + " weights";
  };
  std::string why = check(weights.token_embedding);
  for_each_step_matrix(weights, [&](const WeightMatrix& m) {
    if (why.empty()) why = check(m);
  });
  return why;
}

// What a pass needs of the device besides its KV cache.
struct Footprint {
  int64_t weights = 0;
  int64_t work = 0;  // activations for kReservedTokens, the F16 scratch, cuBLAS's own
};

Footprint footprint(const ModelConfig& config, const ModelWeights& weights) {
  const int64_t half_scratch = std::min(largest_matrix_values(weights), cuda::kHalfScratchValues);
  return {device_weight_bytes(config, weights),
          activation_floats(config, kReservedTokens) * 4 + half_scratch * 2 +
              kReservedTokens * config.feed_forward_dim * 2 + (int64_t{256} << 20)};
}

struct DeviceMemory {
  int64_t free = 0, total = 0;
};

Result<DeviceMemory> device_memory() {
  size_t free = 0, total = 0;
  if (cudaMemGetInfo(&free, &total) != cudaSuccess)
    return make_error("--device cuda: no CUDA device answered (cudaMemGetInfo)");
  return DeviceMemory{static_cast<int64_t>(free), static_cast<int64_t>(total)};
}

}  // namespace

Result<std::unique_ptr<ForwardPass>> make_cuda_forward_pass(const ModelConfig& config,
                                                            const ModelWeights& weights, KvShape kv,
                                                            const CudaPassOptions& options) {
  if (const std::string why = unsupported(config, weights); !why.empty())
    return make_error("--device cuda: the CUDA kernels do not take " + why);
  const auto memory = device_memory();
  if (!memory) return memory.error();
  const Footprint needs = footprint(config, weights);
  const int64_t kv_bytes = KvCache::bytes_per_block(config, kv.block_size) * kv.blocks;
  const int64_t needed = needs.weights + kv_bytes + needs.work;
  if (needed > memory->free) {
    return make_error("--device cuda: the model needs " + gib(needed) + " of device memory (" +
                      gib(needs.weights) + " weights, " + gib(kv_bytes) + " KV cache, " +
                      gib(needs.work) + " work space) and the device has " + gib(memory->free) +
                      " free of " + gib(memory->total) +
                      "; lower --kv-cache-memory or use a smaller quantization");
  }
  try {
    return std::unique_ptr<ForwardPass>(
        std::make_unique<CudaForwardPass>(config, weights, kv, options));
  } catch (const cuda::CudaError& e) {
    return make_error(std::string("--device cuda: ") + e.what());
  }
}

Result<int64_t> cuda_kv_cache_budget(const ModelConfig& config, const ModelWeights& weights,
                                     double utilization) {
  const auto memory = device_memory();
  if (!memory) return memory.error();
  const Footprint needs = footprint(config, weights);
  const auto share = static_cast<int64_t>(utilization * static_cast<double>(memory->total));
  const int64_t kv = share - needs.weights - needs.work;
  if (kv <= 0) {
    return make_error("--device cuda: " + std::to_string(utilization) + " of the device's " +
                      gib(memory->total) + " leaves no room for a KV cache after " +
                      gib(needs.weights) + " of weights and " + gib(needs.work) +
                      " of work space; raise --gpu-memory-utilization or use a smaller "
                      "quantization");
  }
  if (share > memory->free) {
    return make_error("--device cuda: --gpu-memory-utilization " + std::to_string(utilization) +
                      " asks for " + gib(share) + " but only " + gib(memory->free) + " of " +
                      gib(memory->total) + " is free (other processes hold the rest); lower it");
  }
  return kv;
}

}  // namespace troupe
