#pragma once
// The compute half of the engine (vLLM's model runner): a device's forward pass (which owns the
// KV cache memory) and each sequence's sampler. execute() runs one StepPlan — block copies, one
// forward over every chunk, then the samples — and knows nothing of requests, queues or finish
// rules. The worker actor owns one.
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/device/forward_pass_factory.hpp"
#include "engine/grammar/token_mask.hpp"
#include "engine/serve/step_plan.hpp"

namespace troupe {

class ModelRunner {
 public:
  // `vocabulary`: the tokens' bytes for grammar-constrained sequences; null refuses them.
  explicit ModelRunner(std::unique_ptr<ForwardPass> forward_pass,
                       std::shared_ptr<const grammar::VocabularyTrie> vocabulary = nullptr);

  // Throws std::logic_error on a plan that names a sequence it was never given: a bug upstream.
  StepResult execute(const StepPlan& plan);

  // A tensor-parallel group's ranks' totals (a collective of the group: between steps, now and
  // then); empty for one rank.
  std::vector<parallel::RankStats> rank_stats() { return forward_pass_->rank_stats(); }
  void wait_kv_faulted() { forward_pass_->wait_kv_faulted(); }

 private:
  // One grammar's automaton and masks, shared by every sequence constrained by it (a batch of
  // requests with one schema meets the same states): locked, since a step samples its
  // sequences on several threads.
  struct SharedMasker {
    explicit SharedMasker(grammar::TokenMasker m) : masker(std::move(m)) {}
    std::mutex mutex;
    grammar::TokenMasker masker;
  };
  // A constrained sequence's place in its grammar: a state of the shared automaton, which
  // advances with each sampled token's bytes (and so survives preemption with the sequence).
  struct GrammarState {
    std::shared_ptr<SharedMasker> shared;
    int32_t state;
  };
  struct SequenceSampling {
    Sampler sampler;
    std::vector<int32_t> tokens;  // prompt, then every token sampled
    size_t prompt_length = 0;
    std::unique_ptr<GrammarState> grammar;
    Pooling pooling = Pooling::none;  // an embedding sequence: pooled, never sampled
    std::vector<float> pooled;        // the sum of its hidden states so far (or the last one)
  };

  std::unique_ptr<GrammarState> grammar_state(const std::vector<int32_t>& words);
  SampledToken sample(SequenceSampling& s, std::span<const float> logits) const;
  SequenceSampling& sequence(SequenceId id);
  // Adds a chunk's final hidden states to its embedding sequence's pool.
  static void pool(SequenceSampling& s, const ChunkWork& chunk, std::span<const float> hidden,
                   int64_t dim);

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
  std::shared_ptr<const grammar::VocabularyTrie> vocabulary_;
  // Grammars by their words: a batch of requests with one schema compiles it once.
  std::map<std::vector<int32_t>, std::shared_ptr<SharedMasker>> grammars_;
};

// The trie of `tokenizer`'s token bytes, its end-of-generation tokens as the end tokens.
std::shared_ptr<const grammar::VocabularyTrie> grammar_vocabulary(const Tokenizer& tokenizer);

// A runner over `model`'s weights with a forward pass of its own on `device`. Errors:
// make_forward_pass's.
Result<std::unique_ptr<ModelRunner>> make_model_runner(const Model& model,
                                                       const DeviceOptions& device, KvShape kv);

}  // namespace troupe
