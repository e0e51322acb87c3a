#include "engine/serve/step_planner.hpp"

#include <algorithm>
#include <stdexcept>

namespace troupe {

Result<std::unique_ptr<StepPlanner>> StepPlanner::create(const ModelConfig& model,
                                                         EngineConfig config,
                                                         EndOfGeneration is_end_of_generation,
                                                         int tensor_parallel_size) {
  auto layout = plan_engine_layout(std::move(config), model, tensor_parallel_size);
  if (!layout) return layout.error();
  return std::unique_ptr<StepPlanner>(
      new StepPlanner(model, *layout, std::move(is_end_of_generation)));
}

StepPlanner::StepPlanner(const ModelConfig& model, const EngineLayout& layout,
                         EndOfGeneration is_end_of_generation)
    : vocab_size_(model.vocab_size),
      config_(layout.config),
      is_end_of_generation_(std::move(is_end_of_generation)),
      pool_(layout.kv_blocks, config_.block_size, config_.enable_prefix_caching),
      scheduler_(config_.scheduler, pool_) {}

Status StepPlanner::add_request(const std::string& id, std::vector<int32_t> prompt,
                                SamplingParams params, int priority) {
  if (requests_.count(id)) return make_error("request id '" + id + "' is already in use");
  if (auto s = validate(params, vocab_size_); !s) return s.error();
  if (prompt.empty()) return make_error("the prompt is empty: give at least one token");
  for (int32_t token : prompt) {
    if (token < 0 || token >= vocab_size_) {
      return make_error("prompt token id " + std::to_string(token) +
                        " is outside the vocabulary [0, " + std::to_string(vocab_size_) + ")");
    }
  }
  if (static_cast<int>(prompt.size()) >= config_.max_model_len) {
    return make_error("the prompt has " + std::to_string(prompt.size()) +
                      " tokens, but max-model-len is " + std::to_string(config_.max_model_len) +
                      " tokens, the context for prompt and output together: shorten the prompt");
  }
  RequestState& request = requests_[id];
  request.params = std::move(params);
  request.timings.arrival = EngineClock::now();
  const bool pools_every_token = request.params.pooling == Pooling::mean;
  const SequenceId seq = add_sequence(id, 0, prompt);
  scheduler_.add(seq, std::move(prompt), priority, !pools_every_token);
  return Ok{};
}

SequenceId StepPlanner::add_sequence(const std::string& request_id, int index,
                                     const std::vector<int32_t>& prompt) {
  const SequenceId id = next_sequence_++;
  RequestState& request = requests_.at(request_id);
  SamplingParams params = request.params;
  if (params.seed) *params.seed += static_cast<uint64_t>(index);  // samples differ, reproducibly
  unannounced_.push_back({id, std::move(params), prompt});
  sequences_.emplace(id, SequenceState{request_id, index});
  request.sequences.push_back(id);
  ++request.unfinished;
  return id;
}

bool StepPlanner::abort(const std::string& id) {
  if (in_step_) throw std::logic_error("StepPlanner::abort between plan() and complete()");
  auto it = requests_.find(id);
  if (it == requests_.end()) return false;
  for (SequenceId seq : it->second.sequences) {
    if (sequences_.count(seq)) finish_sequence(seq);
  }
  requests_.erase(it);
  return true;
}

bool StepPlanner::stop_sample(const std::string& id, int index) {
  if (in_step_) throw std::logic_error("StepPlanner::stop_sample between plan() and complete()");
  auto it = requests_.find(id);
  if (it == requests_.end()) return false;
  RequestState& request = it->second;
  // Before the first token its samples are one sequence: nothing to stop alone yet.
  if (static_cast<int>(request.sequences.size()) < request.params.n) return false;
  if (index < 0 || index >= static_cast<int>(request.sequences.size())) return false;
  const SequenceId seq = request.sequences[static_cast<size_t>(index)];
  if (!sequences_.count(seq)) return false;  // it finished in the engine already
  finish_sequence(seq);
  if (--request.unfinished == 0) requests_.erase(it);
  return true;
}

void StepPlanner::finish_sequence(SequenceId id) {
  scheduler_.remove(id);
  sequences_.erase(id);
  released_.push_back(id);
}

StepPlan StepPlanner::plan() {
  if (in_step_) throw std::logic_error("StepPlanner::plan before the last plan's complete()");
  StepPlan plan;
  pending_ = scheduler_.schedule();
  pending_forks_.clear();
  in_step_ = true;
  const auto start = EngineClock::now();
  for (const ScheduledChunk& chunk : pending_.chunks) {
    const Sequence& seq = *scheduler_.find(chunk.id);
    const std::string& request_id = sequences_.at(chunk.id).request_id;
    RequestState& request = requests_.at(request_id);
    if (request.timings.first_scheduled == EngineClock::time_point{}) {
      request.timings.first_scheduled = start;
    }
    ChunkWork work;
    work.id = chunk.id;
    work.start = chunk.start;
    work.tokens.assign(seq.tokens.begin() + chunk.start,
                       seq.tokens.begin() + chunk.start + chunk.length);
    work.block_table = seq.block_table;
    if (chunk.samples) {
      work.samplers.push_back(chunk.id);
      // A request's first token also starts its other n - 1 samples, which share the prompt's
      // blocks (forked after this step) and sample from the same logits.
      const bool forks = request.sequences.size() == 1 && request.params.n > 1 &&
                         seq.tokens.size() == static_cast<size_t>(seq.prompt_length);
      for (int index = 1; forks && index < request.params.n; ++index) {
        const SequenceId child = add_sequence(request_id, index, seq.tokens);
        pending_forks_.push_back({chunk.id, child});
        work.samplers.push_back(child);
      }
    }
    plan.chunks.push_back(std::move(work));
  }
  plan.copies = pending_.copies;
  plan.added = std::move(unannounced_);
  unannounced_.clear();
  // Released sequences ride along with the next step that computes: a step that only releases
  // would cost a round trip to the worker and hold up the next request behind it.
  if (!plan.chunks.empty() || !plan.added.empty()) {
    plan.released = std::move(released_);
    released_.clear();
  }
  return plan;
}

StepOutput StepPlanner::complete(const StepResult& result) {
  if (!in_step_) throw std::logic_error("StepPlanner::complete without a plan()");
  StepOutput out;
  in_step_ = false;
  out.preempted = static_cast<int>(pending_.preempted.size());
  if (pending_.chunks.empty()) return out;
  scheduler_.complete(pending_);
  for (const Fork& fork : pending_forks_) scheduler_.fork(fork.parent, fork.child);
  out.scheduled_tokens = pending_.tokens;
  out.scheduled_sequences = static_cast<int>(pending_.chunks.size());
  computed_tokens_ += pending_.tokens;
  const auto now = EngineClock::now();
  for (const SequenceSample& sample : result.samples) take_sample(sample, now, out);
  return out;
}

void StepPlanner::take_sample(const SequenceSample& sample, EngineClock::time_point now,
                              StepOutput& out) {
  auto state = sequences_.find(sample.id);
  if (state == sequences_.end()) return;  // its request ended earlier in this step
  RequestState& request = requests_.at(state->second.request_id);
  if (request.timings.first_token == EngineClock::time_point{}) request.timings.first_token = now;
  if (request.params.pooling != Pooling::none) {  // an embedding: done at its prompt's end
    out.updates.push_back({state->second.request_id, state->second.index, sample.token,
                           FinishReason::stop, sample.embedding, now, request.timings});
    const std::string request_id = state->second.request_id;
    finish_sequence(sample.id);
    requests_.erase(request_id);
    return;
  }
  const Sequence& seq = *scheduler_.find(sample.id);
  scheduler_.append_token(sample.id, sample.token.token);
  const auto generated = static_cast<int>(seq.tokens.size()) - seq.prompt_length;

  const SamplingParams& params = request.params;
  const int32_t token = sample.token.token;
  FinishReason finish = FinishReason::none;
  const bool stop_id = std::find(params.stop_token_ids.begin(), params.stop_token_ids.end(),
                                 token) != params.stop_token_ids.end();
  if (stop_id || (!params.ignore_eos && is_end_of_generation_ && is_end_of_generation_(token))) {
    finish = FinishReason::stop;
  } else if (generated >= params.max_tokens ||
             static_cast<int>(seq.tokens.size()) >= config_.max_model_len) {
    finish = FinishReason::length;
  }
  out.updates.push_back({state->second.request_id,
                         state->second.index,
                         sample.token,
                         finish,
                         {},
                         now,
                         request.timings});
  if (finish == FinishReason::none) return;

  const std::string request_id = state->second.request_id;
  finish_sequence(sample.id);
  if (--request.unfinished == 0) requests_.erase(request_id);
}

EngineStats StepPlanner::stats() const {
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
