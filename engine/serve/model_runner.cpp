#include "engine/serve/model_runner.hpp"

#include <stdexcept>
#include <string>

namespace troupe {

ModelRunner::ModelRunner(Transformer& model, int kv_blocks, int block_size)
    : model_(model), cache_(model.config(), kv_blocks, block_size) {}

StepResult ModelRunner::execute(const StepPlan& plan) {
  for (const NewSequence& s : plan.added) {
    sequences_.insert_or_assign(s.id,
                                SequenceSampling{Sampler(s.params), s.prompt, s.prompt.size()});
  }
  for (SequenceId id : plan.released) sequences_.erase(id);
  StepResult result;
  if (plan.chunks.empty()) return result;

  for (const BlockCopy& copy : plan.copies) cache_.copy_block(copy.from, copy.to);
  chunks_.clear();
  for (const ChunkWork& chunk : plan.chunks) {
    chunks_.push_back({chunk.tokens, chunk.start, chunk.block_table,
                       chunk.samplers.empty() ? ChunkLogits::none : ChunkLogits::last});
  }
  const std::span<const float> logits = model_.forward(chunks_, cache_);

  const auto vocab = static_cast<size_t>(model_.config().vocab_size);
  size_t row = 0;
  for (const ChunkWork& chunk : plan.chunks) {
    if (chunk.samplers.empty()) continue;
    const std::span<const float> row_logits = logits.subspan(row++ * vocab, vocab);
    for (SequenceId id : chunk.samplers) {
      auto it = sequences_.find(id);
      if (it == sequences_.end()) {
        throw std::logic_error("ModelRunner: sequence " + std::to_string(id) + " was never added");
      }
      SequenceSampling& s = it->second;
      const std::span<const int32_t> tokens(s.tokens);
      SampledToken sampled = s.sampler.sample(row_logits, tokens.first(s.prompt_length),
                                              tokens.subspan(s.prompt_length));
      s.tokens.push_back(sampled.token);
      result.samples.push_back({id, std::move(sampled)});
    }
  }
  return result;
}

std::shared_ptr<ModelRunner> make_model_runner(const Model& model, int kv_blocks, int block_size,
                                               int threads) {
  struct Bundle {
    explicit Bundle(int threads) : pool(threads) {}
    ThreadPool pool;
    std::unique_ptr<Transformer> transformer;
    std::unique_ptr<ModelRunner> runner;
  };
  auto bundle = std::make_shared<Bundle>(threads);
  bundle->transformer = std::make_unique<Transformer>(model.config, model.weights, bundle->pool);
  bundle->runner = std::make_unique<ModelRunner>(*bundle->transformer, kv_blocks, block_size);
  return std::shared_ptr<ModelRunner>(bundle, bundle->runner.get());  // aliases the bundle
}

}  // namespace troupe
