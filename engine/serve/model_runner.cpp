#include "engine/serve/model_runner.hpp"

#include <cmath>
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

ModelRunner::SequenceSampling& ModelRunner::sequence(SequenceId id) {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) {
    throw std::logic_error("ModelRunner: sequence " + std::to_string(id) + " was never added");
  }
  return it->second;
}

void ModelRunner::pool(SequenceSampling& s, const ChunkWork& chunk, std::span<const float> hidden,
                       int64_t dim) {
  const auto rows = static_cast<int64_t>(chunk.tokens.size());
  if (s.pooling == Pooling::last) {
    const auto last = hidden.subspan(static_cast<size_t>((rows - 1) * dim));
    s.pooled.assign(last.begin(), last.end());
    return;
  }
  if (chunk.start == 0 || std::ssize(s.pooled) != dim) {  // again after a preemption
    s.pooled.assign(static_cast<size_t>(dim), 0.0f);
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < dim; ++i) s.pooled[i] += hidden[static_cast<size_t>(r * dim + i)];
  }
}

// The pool as the embedding: the mean (or last state) scaled to unit length, as OpenAI's
// embeddings and llama.cpp's server (its default normalization) give them.
static std::vector<float> embedding_of(std::vector<float> pooled) {
  double norm = 0;
  for (float x : pooled) norm += static_cast<double>(x) * x;
  norm = std::sqrt(norm);
  if (norm > 0) {
    for (float& x : pooled) x = static_cast<float>(x / norm);
  }
  return pooled;
}

StepResult ModelRunner::execute(const StepPlan& plan) {
  for (const NewSequence& s : plan.added) {
    sequences_.insert_or_assign(
        s.id, SequenceSampling{Sampler(s.params),
                               s.prompt,
                               s.prompt.size(),
                               s.params.grammar.empty() ? nullptr : grammar_state(s.params.grammar),
                               s.params.pooling,
                               {}});
  }
  for (SequenceId id : plan.released) sequences_.erase(id);
  StepResult result;
  if (plan.chunks.empty()) return result;

  for (const BlockCopy& copy : plan.copies) forward_pass_->copy_block(copy.from, copy.to);
  chunks_.clear();
  for (const ChunkWork& chunk : plan.chunks) {
    const Pooling pooling = sequence(chunk.id).pooling;
    const bool ends_prompt = !chunk.samplers.empty();
    const bool hidden = pooling == Pooling::mean || (pooling == Pooling::last && ends_prompt);
    const bool logits = ends_prompt && pooling == Pooling::none;
    chunks_.push_back({chunk.tokens, chunk.start, chunk.block_table,
                       logits ? ChunkLogits::last : ChunkLogits::none, hidden});
  }
  const std::span<const float> logits = forward_pass_->forward(chunks_);
  const std::span<const float> hidden = forward_pass_->hidden_states();

  const auto vocab = static_cast<size_t>(forward_pass_->config().vocab_size);
  const auto dim = static_cast<int64_t>(forward_pass_->config().embedding_dim);
  draws_.clear();
  size_t logit_row = 0, hidden_row = 0;
  for (size_t c = 0; c < plan.chunks.size(); ++c) {
    const ChunkWork& chunk = plan.chunks[c];
    if (chunks_[c].hidden) {
      SequenceSampling& s = sequence(chunk.id);
      const size_t rows = chunk.tokens.size();
      if (hidden.size() < (hidden_row + rows) * static_cast<size_t>(dim)) {
        throw std::logic_error("ModelRunner: the forward pass gave no hidden states");
      }
      pool(s, chunk, hidden.subspan(hidden_row * static_cast<size_t>(dim), rows * dim), dim);
      hidden_row += rows;
      if (!chunk.samplers.empty()) {
        if (s.pooling == Pooling::mean) {
          for (float& x : s.pooled) x /= static_cast<float>(s.prompt_length);
        }
        result.samples.push_back({chunk.id, SampledToken{-1, 0.0f, {}}, embedding_of(s.pooled)});
      }
    }
    if (chunks_[c].logits == ChunkLogits::none) continue;
    const std::span<const float> row_logits = logits.subspan(logit_row++ * vocab, vocab);
    for (SequenceId id : chunk.samplers) draws_.push_back({id, &sequence(id), row_logits, {}});
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
    result.samples.push_back({d.id, std::move(d.sampled), {}});
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
