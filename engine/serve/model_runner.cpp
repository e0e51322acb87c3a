#include "engine/serve/model_runner.hpp"

#include <stdexcept>
#include <string>

#include "kernels/cpu/thread_pool.hpp"

namespace troupe {

ModelRunner::ModelRunner(std::unique_ptr<ForwardPass> forward_pass)
    : forward_pass_(std::move(forward_pass)) {}

StepResult ModelRunner::execute(const StepPlan& plan) {
  for (const NewSequence& s : plan.added) {
    sequences_.insert_or_assign(s.id,
                                SequenceSampling{Sampler(s.params), s.prompt, s.prompt.size()});
  }
  for (SequenceId id : plan.released) sequences_.erase(id);
  StepResult result;
  if (plan.chunks.empty()) return result;

  for (const BlockCopy& copy : plan.copies) forward_pass_->copy_block(copy.from, copy.to);
  chunks_.clear();
  for (const ChunkWork& chunk : plan.chunks) {
    chunks_.push_back({chunk.tokens, chunk.start, chunk.block_table,
                       chunk.samplers.empty() ? ChunkLogits::none : ChunkLogits::last});
  }
  const std::span<const float> logits = forward_pass_->forward(chunks_);

  const auto vocab = static_cast<size_t>(forward_pass_->config().vocab_size);
  draws_.clear();
  size_t row = 0;
  for (const ChunkWork& chunk : plan.chunks) {
    if (chunk.samplers.empty()) continue;
    const std::span<const float> row_logits = logits.subspan(row++ * vocab, vocab);
    for (SequenceId id : chunk.samplers) {
      auto it = sequences_.find(id);
      if (it == sequences_.end()) {
        throw std::logic_error("ModelRunner: sequence " + std::to_string(id) + " was never added");
      }
      draws_.push_back({id, &it->second, row_logits, {}});
    }
  }
  // Each sequence draws from its own seeded generator: sharing them out over the threads changes
  // no token (a draw at temperature 1 over 49,152 logits is ~76 us, 32 of them ~8% of a step).
  const auto sample = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      Draw& d = draws_[static_cast<size_t>(i)];
      const std::span<const int32_t> tokens(d.sequence->tokens);
      d.sampled = d.sequence->sampler.sample(d.logits, tokens.first(d.sequence->prompt_length),
                                             tokens.subspan(d.sequence->prompt_length));
    }
  };
  ThreadPool* threads = forward_pass_->host_threads();
  if (threads != nullptr && draws_.size() > 1) {
    threads->parallel_for(std::ssize(draws_), sample);
  } else {
    sample(0, std::ssize(draws_));
  }
  for (Draw& d : draws_) {
    d.sequence->tokens.push_back(d.sampled.token);
    result.samples.push_back({d.id, std::move(d.sampled)});
  }
  return result;
}

Result<std::unique_ptr<ModelRunner>> make_model_runner(const Model& model,
                                                       const DeviceOptions& device, KvShape kv) {
  auto forward_pass = make_forward_pass(model, device, kv);
  if (!forward_pass) return forward_pass.error();
  return std::make_unique<ModelRunner>(std::move(*forward_pass));
}

}  // namespace troupe
