#pragma once
// The compute half of the engine (vLLM's model runner): a device's forward pass (which owns the
// KV cache memory) and each sequence's sampler. execute() runs one StepPlan — block copies, one
// forward over every chunk, then the samples — and knows nothing of requests, queues or finish
// rules. The worker actor owns one.
#include <memory>
#include <unordered_map>
#include <vector>

#include "engine/device/forward_pass_factory.hpp"
#include "engine/serve/step_plan.hpp"

namespace troupe {

class ModelRunner {
 public:
  explicit ModelRunner(std::unique_ptr<ForwardPass> forward_pass);

  // Throws std::logic_error on a plan that names a sequence it was never given: a bug upstream.
  StepResult execute(const StepPlan& plan);

  // A tensor-parallel group's ranks' totals (a collective of the group: between steps, now and
  // then); empty for one rank.
  std::vector<parallel::RankStats> rank_stats() { return forward_pass_->rank_stats(); }

 private:
  struct SequenceSampling {
    Sampler sampler;
    std::vector<int32_t> tokens;  // prompt, then every token sampled
    size_t prompt_length = 0;
  };

  struct Draw {  // one sample of a step
    SequenceId id;
    SequenceSampling* sequence;
    std::span<const float> logits;
    SampledToken sampled;
  };

  std::unique_ptr<ForwardPass> forward_pass_;
  std::unordered_map<SequenceId, SequenceSampling> sequences_;
  std::vector<SequenceChunk> chunks_;
  std::vector<Draw> draws_;
};

// A runner over `model`'s weights with a forward pass of its own on `device`. Errors:
// make_forward_pass's.
Result<std::unique_ptr<ModelRunner>> make_model_runner(const Model& model,
                                                       const DeviceOptions& device, KvShape kv);

}  // namespace troupe
