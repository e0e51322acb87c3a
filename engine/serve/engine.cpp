#include "engine/serve/engine.hpp"

#include <algorithm>

namespace troupe {

Result<std::unique_ptr<Engine>> Engine::create(Transformer& model, EngineConfig config,
                                               EndOfGeneration is_end_of_generation) {
  auto layout = plan_engine_layout(std::move(config), model.config());
  if (!layout) return layout.error();
  return std::unique_ptr<Engine>(new Engine(model, *layout, std::move(is_end_of_generation)));
}

Engine::Engine(Transformer& model, const EngineLayout& layout, EndOfGeneration is_end_of_generation)
    : model_(model),
      config_(layout.config),
      is_end_of_generation_(std::move(is_end_of_generation)),
      pool_(layout.kv_blocks, config_.block_size, config_.enable_prefix_caching),
      scheduler_(config_.scheduler, pool_),
      cache_(model.config(), layout.kv_blocks, config_.block_size) {}

Status Engine::add_request(const std::string& id, std::vector<int32_t> prompt,
                           SamplingParams params, int priority) {
  const ModelConfig& model = model_.config();
  if (requests_.count(id)) return make_error("request id '" + id + "' is already in use");
  if (auto s = validate(params, model.vocab_size); !s) return s.error();
  if (prompt.empty()) return make_error("the prompt is empty: give at least one token");
  for (int32_t token : prompt) {
    if (token < 0 || token >= model.vocab_size) {
      return make_error("prompt token id " + std::to_string(token) +
                        " is outside the vocabulary [0, " + std::to_string(model.vocab_size) + ")");
    }
  }
  if (static_cast<int>(prompt.size()) >= config_.max_model_len) {
    return make_error("the prompt has " + std::to_string(prompt.size()) +
                      " tokens, but max-model-len is " + std::to_string(config_.max_model_len) +
                      " tokens for prompt and output together: shorten the prompt");
  }
  RequestState& request = requests_[id];
  request.params = std::move(params);
  request.timings.arrival = EngineClock::now();
  const SequenceId seq = next_sequence_++;
  add_sequence(id, 0, seq);
  scheduler_.add(seq, std::move(prompt), priority);
  return Ok{};
}

void Engine::add_sequence(const std::string& request_id, int index, SequenceId id) {
  RequestState& request = requests_.at(request_id);
  SamplingParams params = request.params;
  if (params.seed) *params.seed += static_cast<uint64_t>(index);  // samples differ, reproducibly
  sequences_.emplace(id, SequenceState{request_id, index, Sampler(params)});
  request.sequences.push_back(id);
  ++request.unfinished;
}

bool Engine::abort(const std::string& id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return false;
  for (SequenceId seq : it->second.sequences) {
    scheduler_.remove(seq);
    sequences_.erase(seq);
  }
  requests_.erase(it);
  return true;
}

StepOutput Engine::step() {
  StepOutput out;
  const SchedulePlan plan = scheduler_.schedule();
  out.preempted = static_cast<int>(plan.preempted.size());
  if (plan.chunks.empty()) return out;
  const auto start = EngineClock::now();

  for (const BlockCopy& copy : plan.copies) cache_.copy_block(copy.from, copy.to);
  chunks_.clear();
  for (const ScheduledChunk& chunk : plan.chunks) {
    const Sequence& seq = *scheduler_.find(chunk.id);
    chunks_.push_back(
        {std::span(seq.tokens)
             .subspan(static_cast<size_t>(chunk.start), static_cast<size_t>(chunk.length)),
         chunk.start, seq.block_table, chunk.samples ? ChunkLogits::last : ChunkLogits::none});
    RequestTimings& timings = requests_.at(sequences_.at(chunk.id).request_id).timings;
    if (timings.first_scheduled == EngineClock::time_point{}) timings.first_scheduled = start;
  }
  const std::span<const float> logits = model_.forward(chunks_, cache_);
  scheduler_.complete(plan);
  out.scheduled_tokens = plan.tokens;
  out.scheduled_sequences = static_cast<int>(plan.chunks.size());
  computed_tokens_ += plan.tokens;

  const auto now = EngineClock::now();
  const auto vocab = static_cast<size_t>(model_.config().vocab_size);
  size_t row = 0;
  for (const ScheduledChunk& chunk : plan.chunks) {
    if (!chunk.samples) continue;
    sample_next(chunk.id, logits.subspan(row++ * vocab, vocab), now, out);
  }
  return out;
}

void Engine::sample_next(SequenceId id, std::span<const float> logits, EngineClock::time_point now,
                         StepOutput& out) {
  const std::string request_id = sequences_.at(id).request_id;
  RequestState& request = requests_.at(request_id);
  const Sequence& seq = *scheduler_.find(id);
  const bool forks = request.sequences.size() == 1 && request.params.n > 1 &&
                     seq.tokens.size() == static_cast<size_t>(seq.prompt_length);
  if (!forks) return sample_one(id, logits, now, out);
  for (int index = 1; index < request.params.n; ++index) {
    const SequenceId child = next_sequence_++;
    scheduler_.fork(id, child);
    add_sequence(request_id, index, child);
  }
  const std::vector<SequenceId> samples = request.sequences;  // sample_one may end the request
  for (SequenceId seq : samples) sample_one(seq, logits, now, out);
}

void Engine::sample_one(SequenceId id, std::span<const float> logits, EngineClock::time_point now,
                        StepOutput& out) {
  SequenceState& state = sequences_.at(id);
  RequestState& request = requests_.at(state.request_id);
  const Sequence& seq = *scheduler_.find(id);
  const std::span<const int32_t> tokens(seq.tokens);
  const auto prompt_length = static_cast<size_t>(seq.prompt_length);
  const SampledToken sampled =
      state.sampler.sample(logits, tokens.first(prompt_length), tokens.subspan(prompt_length));
  scheduler_.append_token(id, sampled.token);
  const auto generated = static_cast<int>(seq.tokens.size()) - seq.prompt_length;
  if (request.timings.first_token == EngineClock::time_point{}) request.timings.first_token = now;

  const SamplingParams& params = request.params;
  FinishReason finish = FinishReason::none;
  const bool stop_id = std::find(params.stop_token_ids.begin(), params.stop_token_ids.end(),
                                 sampled.token) != params.stop_token_ids.end();
  if (stop_id ||
      (!params.ignore_eos && is_end_of_generation_ && is_end_of_generation_(sampled.token))) {
    finish = FinishReason::stop;
  } else if (generated >= params.max_tokens ||
             static_cast<int>(seq.tokens.size()) >= config_.max_model_len) {
    finish = FinishReason::length;
  }
  out.updates.push_back({state.request_id, state.index, sampled, finish, now, request.timings});
  if (finish == FinishReason::none) return;

  scheduler_.remove(id);
  const std::string request_id = state.request_id;
  sequences_.erase(id);
  if (--request.unfinished == 0) requests_.erase(request_id);
}

EngineStats Engine::stats() const {
  EngineStats s;
  s.running = scheduler_.running();
  s.waiting = scheduler_.waiting();
  s.preemptions = scheduler_.preemptions();
  s.kv_blocks_used = pool_.used_blocks();
  s.kv_blocks_free = pool_.free_blocks();
  s.prefix_cache_queries = scheduler_.prefix_cache().queried_tokens;
  s.prefix_cache_hits = scheduler_.prefix_cache().hit_tokens;
  s.computed_tokens = computed_tokens_;
  return s;
}

}  // namespace troupe
