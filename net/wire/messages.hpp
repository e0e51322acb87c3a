#pragma once
// The payloads that cross nodes, as plain structs: what a request actor submits to a replica's
// scheduler, the tokens that come back, and the statistics a replica reports. actors/ gives them
// CAF inspect functions; net/wire/codec gives them a msgpack encoding that a non-C++ peer can
// speak.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/sample/sampler.hpp"
#include "engine/sample/sampling_params.hpp"
#include "engine/serve/step_planner.hpp"

namespace troupe::wire {

// Bumped when a payload's fields change meaning or order; decoders refuse other versions.
constexpr uint32_t kSchemaVersion = 1;

// A tokenized request for one replica's scheduler.
struct EngineRequest {
  std::string request_id;
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int32_t priority = 0;  // lower is served first, as in vLLM
  bool operator==(const EngineRequest&) const = default;
};

// One new token of one of a request's samples.
struct TokenDelta {
  std::string request_id;
  int32_t index = 0;  // which of the request's n samples
  SampledToken token;
  FinishReason finish = FinishReason::none;
  bool operator==(const TokenDelta&) const = default;
};

// What a replica reports after each step (and on its heartbeat).
struct ReplicaStats {
  std::string replica;
  int32_t running = 0;
  int32_t waiting = 0;
  int32_t kv_blocks_used = 0;
  int32_t kv_blocks_free = 0;
  int64_t preemptions = 0;
  int64_t prefix_cache_queries = 0;
  int64_t prefix_cache_hits = 0;
  int64_t computed_tokens = 0;
  double step_seconds = 0;  // the last step's duration
  bool operator==(const ReplicaStats&) const = default;
};

}  // namespace troupe::wire
