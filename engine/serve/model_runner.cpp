#include "engine/serve/model_runner.hpp"

#include <stdexcept>
#include <string>

#include <algorithm>

#include "engine/grammar/grammar_words.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace troupe {

namespace {

constexpr size_t kKeptGrammars = 64;

}  // namespace

ModelRunner::ModelRunner(std::unique_ptr<ForwardPass> forward_pass,
                         std::shared_ptr<const grammar::VocabularyTrie> vocabulary)
    : forward_pass_(std::move(forward_pass)), vocabulary_(std::move(vocabulary)) {}

std::unique_ptr<ModelRunner::GrammarState> ModelRunner::grammar_state(
    const std::vector<int32_t>& words) {
  if (!vocabulary_) throw std::logic_error("ModelRunner: a grammar, and no vocabulary to mask");
  auto& shared = grammars_[words];
  if (!shared) {
    // validate() compiled these words where the request came in: failing here is a bug.
    auto g = grammar::from_words(words);
    if (!g) throw std::logic_error("ModelRunner: " + g.message());
    auto c = grammar::CompiledGrammar::compile(*g);
    if (!c) throw std::logic_error("ModelRunner: " + c.message());
    shared = std::make_shared<SharedMasker>(grammar::TokenMasker(*c, vocabulary_));
  }
  auto state = std::make_unique<GrammarState>(GrammarState{shared, 0});
  {
    std::lock_guard lock(shared->mutex);
    state->state =
        shared->masker.states().state_of(grammar::start_stacks(shared->masker.states().grammar()));
  }
  if (grammars_.size() > kKeptGrammars) grammars_.clear();  // the sequences keep theirs
  return state;
}

SampledToken ModelRunner::sample(SequenceSampling& s, std::span<const float> logits) const {
  const std::span<const int32_t> tokens(s.tokens);
  const auto prompt = tokens.first(s.prompt_length);
  const auto output = tokens.subspan(s.prompt_length);
  if (!s.grammar) return s.sampler.sample(logits, prompt, output);
  GrammarState& g = *s.grammar;
  grammar::TokenMasker& masker = g.shared->masker;
  std::unique_lock lock(g.shared->mutex);
  // The state after `token`, or kDead where the grammar does not allow it.
  auto after = [&](int32_t token) {
    if (vocabulary_->is_end(token)) {
      return masker.states().complete(g.state) ? g.state : grammar::StateCache::kDead;
    }
    int32_t state = g.state;
    for (char c : vocabulary_->bytes(token)) {
      state = masker.states().next(state, static_cast<uint8_t>(c));
      if (state == grammar::StateCache::kDead) break;
    }
    return vocabulary_->bytes(token).empty() ? grammar::StateCache::kDead : state;
  };
  if (s.sampler.draws_from_whole_distribution()) {
    // Most steps of a JSON string allow nearly every token: draw first, and make the mask only
    // if the grammar rejects the draw (llama.cpp samples so too).
    lock.unlock();
    SampledToken sampled = s.sampler.sample(logits, prompt, output);
    lock.lock();
    if (const int32_t next = after(sampled.token); next != grammar::StateCache::kDead) {
      g.state = next;
      return sampled;
    }
  }
  const grammar::TokenMask& allowed = masker.mask(g.state);  // never changes once made
  lock.unlock();
  const bool any = std::any_of(allowed.words().begin(), allowed.words().end(),
                               [](uint64_t w) { return w != 0; });
  // Nothing allowed: the grammar is finished and nothing may follow, and the vocabulary has
  // no end token to allow either. End the sequence as an end token would.
  if (!any) {
    return SampledToken{
        vocabulary_->end_tokens().empty() ? 0 : vocabulary_->end_tokens()[0], 0.0f, {}};
  }
  SampledToken sampled = s.sampler.sample(logits, prompt, output, &allowed);
  lock.lock();
  if (const int32_t next = after(sampled.token); next != grammar::StateCache::kDead) {
    g.state = next;  // an end token leaves the state as it is
  }
  return sampled;
}

StepResult ModelRunner::execute(const StepPlan& plan) {
  for (const NewSequence& s : plan.added) {
    sequences_.insert_or_assign(
        s.id,
        SequenceSampling{Sampler(s.params), s.prompt, s.prompt.size(),
                         s.params.grammar.empty() ? nullptr : grammar_state(s.params.grammar)});
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
  const auto sample_range = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      Draw& d = draws_[static_cast<size_t>(i)];
      d.sampled = sample(*d.sequence, d.logits);
    }
  };
  ThreadPool* threads = forward_pass_->host_threads();
  if (threads != nullptr && draws_.size() > 1) {
    threads->parallel_for(std::ssize(draws_), sample_range);
  } else {
    sample_range(0, std::ssize(draws_));
  }
  for (Draw& d : draws_) {
    d.sequence->tokens.push_back(d.sampled.token);
    result.samples.push_back({d.id, std::move(d.sampled)});
  }
  return result;
}

std::shared_ptr<const grammar::VocabularyTrie> grammar_vocabulary(const Tokenizer& tokenizer) {
  std::vector<std::string> bytes(tokenizer.vocab_size());
  std::vector<int32_t> ends;
  for (size_t id = 0; id < bytes.size(); ++id) {
    const auto token = static_cast<int32_t>(id);
    bytes[id] = std::string(tokenizer.render(token, true));  // control tokens: none
    if (tokenizer.is_eog(token)) ends.push_back(token);
  }
  return std::make_shared<const grammar::VocabularyTrie>(bytes, std::move(ends));
}

Result<std::unique_ptr<ModelRunner>> make_model_runner(const Model& model,
                                                       const DeviceOptions& device, KvShape kv) {
  auto forward_pass = make_forward_pass(model, device, kv);
  if (!forward_pass) return forward_pass.error();
  return std::make_unique<ModelRunner>(std::move(*forward_pass),
                                       grammar_vocabulary(model.tokenizer));
}

}  // namespace troupe
