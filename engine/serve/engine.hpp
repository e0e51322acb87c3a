#pragma once
// The batching engine: many requests on one model at once (vLLM's engine core). add_request()
// queues a request, step() runs one forward over every token the scheduler picked — prefill
// chunks and decodes of many sequences together — and samples their next tokens. Free of
// threads and sockets: the scheduler actor, the HTTP server and the benchmarks drive it alike.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/kv/block_pool.hpp"
#include "engine/kv/kv_cache.hpp"
#include "engine/model/transformer.hpp"
#include "engine/result.hpp"
#include "engine/sample/sampler.hpp"
#include "engine/sched/scheduler.hpp"
#include "engine/serve/engine_config.hpp"

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

class Engine {
 public:
  using EndOfGeneration = std::function<bool(int32_t token)>;

  // Errors: the config's, e.g. a KV budget too small for one full-length sequence.
  static Result<std::unique_ptr<Engine>> create(Transformer& model, EngineConfig config,
                                                EndOfGeneration is_end_of_generation);

  const EngineConfig& config() const { return config_; }

  // Errors: an id in use, an empty prompt, a token outside the vocabulary, a prompt that leaves
  // no room below max-model-len, invalid sampling parameters.
  Status add_request(const std::string& id, std::vector<int32_t> prompt, SamplingParams params,
                     int priority = 0);
  // Drops a request wherever it is; its KV blocks return to the pool at once.
  bool abort(const std::string& id);
  // Runs one step; empty when there is nothing to run.
  StepOutput step();

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
    Sampler sampler;
  };

  Engine(Transformer& model, const EngineLayout& layout, EndOfGeneration is_end_of_generation);
  void add_sequence(const std::string& request_id, int index, SequenceId id);
  // Samples after a chunk that reached the end of its sequence; a request's first token also
  // forks its other n - 1 samples, which share the prompt's blocks.
  void sample_next(SequenceId id, std::span<const float> logits, EngineClock::time_point now,
                   StepOutput& out);
  void sample_one(SequenceId id, std::span<const float> logits, EngineClock::time_point now,
                  StepOutput& out);

  Transformer& model_;
  EngineConfig config_;
  EndOfGeneration is_end_of_generation_;
  BlockPool pool_;
  Scheduler scheduler_;
  KvCache cache_;
  std::unordered_map<std::string, RequestState> requests_;
  std::unordered_map<SequenceId, SequenceState> sequences_;
  SequenceId next_sequence_ = 0;
  int64_t computed_tokens_ = 0;
  std::vector<SequenceChunk> chunks_;
};

}  // namespace troupe
