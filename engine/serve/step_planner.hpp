#pragma once
// The scheduling half of the engine (vLLM's engine core without the model): requests, the
// scheduling policy, the KV block bookkeeping and the finish rules. plan() picks the next step's
// work as a StepPlan; complete() takes the runner's StepResult and turns the sampled tokens into
// per-request updates. Free of threads and sockets, and of the model's memory: the scheduler
// actor owns one and sends its plans to a worker.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/kv/block_pool.hpp"
#include "engine/result.hpp"
#include "engine/sched/scheduler.hpp"
#include "engine/serve/engine_config.hpp"
#include "engine/serve/step_plan.hpp"

namespace troupe {

using EngineClock = std::chrono::steady_clock;

enum class FinishReason { none, stop, length };

struct RequestTimings {
  EngineClock::time_point arrival;          // add_request()
  EngineClock::time_point first_scheduled;  // first step that computed any of it
  EngineClock::time_point first_token;      // first token sampled
};

// One new token of one of a request's sequences (one per sample when n > 1).
struct SequenceUpdate {
  std::string request_id;
  int index = 0;  // which of the request's n samples
  SampledToken token;
  FinishReason finish = FinishReason::none;
  std::vector<float> embedding;  // an embedding request's vector: its only update
  EngineClock::time_point time;  // when the token was sampled
  RequestTimings timings;
};

struct StepOutput {
  std::vector<SequenceUpdate> updates;
  int scheduled_tokens = 0;
  int scheduled_sequences = 0;
  int preempted = 0;
};

struct EngineStats {
  int running = 0;  // sequences
  int waiting = 0;
  int64_t preemptions = 0;  // since start
  int kv_blocks_used = 0;
  int kv_blocks_free = 0;
  int64_t prefix_cache_queries = 0;  // tokens looked up
  int64_t prefix_cache_hits = 0;     // tokens found cached
  int64_t computed_tokens = 0;       // tokens through the forward pass since start
};

class StepPlanner {
 public:
  using EndOfGeneration = std::function<bool(int32_t token)>;

  // Errors: the config's, e.g. a KV budget too small for one full-length sequence
  // (plan_engine_layout's: with tensor parallelism the budget is each rank's).
  static Result<std::unique_ptr<StepPlanner>> create(const ModelConfig& model, EngineConfig config,
                                                     EndOfGeneration is_end_of_generation,
                                                     int tensor_parallel_size = 1);

  const EngineConfig& config() const { return config_; }
  int kv_blocks() const { return pool_.total_blocks(); }

  // Errors: an id in use, an empty prompt, a token outside the vocabulary, a prompt that leaves
  // no room below max-model-len, invalid sampling parameters.
  Status add_request(const std::string& id, std::vector<int32_t> prompt, SamplingParams params,
                     int priority = 0);
  // Drops a request wherever it is; its KV blocks return to the pool at once. Not between plan()
  // and complete().
  bool abort(const std::string& id);
  // Ends sample `index` of request `id` (n > 1: that sample met a stop string the engine does
  // not see) and frees its blocks; the request's other samples go on. False when the request or
  // that sample has already finished here, or when the samples are not forked yet (before the
  // first token). Not between plan() and complete().
  bool stop_sample(const std::string& id, int index);

  // The next step's work; its chunks are empty when there is nothing to compute (it may still
  // carry registrations and releases for the runner). Every plan() must be followed by one
  // complete() with the runner's result before the next plan() or abort().
  StepPlan plan();
  StepOutput complete(const StepResult& result);

  bool has_unfinished() const { return !requests_.empty(); }
  EngineStats stats() const;

 private:
  struct RequestState {
    SamplingParams params;
    RequestTimings timings;
    std::vector<SequenceId> sequences;  // by sample index
    int unfinished = 0;
  };
  struct SequenceState {
    std::string request_id;
    int index = 0;
  };
  struct Fork {
    SequenceId parent = 0;
    SequenceId child = 0;
  };

  StepPlanner(const ModelConfig& model, const EngineLayout& layout,
              EndOfGeneration is_end_of_generation);
  SequenceId add_sequence(const std::string& request_id, int index,
                          const std::vector<int32_t>& prompt);
  void finish_sequence(SequenceId id);
  void take_sample(const SequenceSample& sample, EngineClock::time_point now, StepOutput& out);

  int vocab_size_;
  EngineConfig config_;
  EndOfGeneration is_end_of_generation_;
  BlockPool pool_;
  Scheduler scheduler_;
  std::unordered_map<std::string, RequestState> requests_;
  std::unordered_map<SequenceId, SequenceState> sequences_;
  SequenceId next_sequence_ = 0;
  int64_t computed_tokens_ = 0;
  std::vector<NewSequence> unannounced_;  // for the next plan's `added`
  std::vector<SequenceId> released_;      // for the next plan's `released`
  SchedulePlan pending_;                  // the plan between plan() and complete()
  std::vector<Fork> pending_forks_;       // n > 1 samples made at the pending step
  bool in_step_ = false;
};

}  // namespace troupe
