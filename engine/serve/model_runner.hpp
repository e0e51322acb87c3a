#pragma once
// The compute half of the engine (vLLM's model runner): the model, the KV cache memory and each
// sequence's sampler. execute() runs one StepPlan — block copies, one forward over every chunk,
// then the samples — and knows nothing of requests, queues or finish rules. The worker actor
// owns one.
#include <memory>
#include <unordered_map>
#include <vector>

#include "engine/kv/kv_cache.hpp"
#include "engine/model/model.hpp"
#include "engine/model/transformer.hpp"
#include "engine/serve/step_plan.hpp"

namespace troupe {

class ModelRunner {
 public:
  ModelRunner(Transformer& model, int kv_blocks, int block_size);

  const ModelConfig& model_config() const { return model_.config(); }

  // Throws std::logic_error on a plan that names a sequence it was never given: a bug upstream.
  StepResult execute(const StepPlan& plan);

  int known_sequences() const { return static_cast<int>(sequences_.size()); }

 private:
  struct SequenceSampling {
    Sampler sampler;
    std::vector<int32_t> tokens;  // prompt, then every token sampled
    size_t prompt_length = 0;
  };

  Transformer& model_;
  KvCache cache_;
  std::unordered_map<SequenceId, SequenceSampling> sequences_;
  std::vector<SequenceChunk> chunks_;
};

// A runner over `model`'s weights with a thread pool and forward pass of its own, kept alive by
// the returned pointer; `model` must outlive it. threads = 0: one per core.
std::shared_ptr<ModelRunner> make_model_runner(const Model& model, int kv_blocks, int block_size,
                                               int threads = 0);

}  // namespace troupe
