#pragma once
// The actors' message payloads that are not engine types, as plain structs: what a request actor
// submits to a replica's scheduler and the answers, the tokens that come back, the statistics
// and health a replica reports. actors/messages.hpp gives them (and the engine types they
// travel with) CAF inspect functions; net/wire/codec gives every message type a msgpack
// encoding that a non-C++ peer can speak.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/sample/sampler.hpp"
#include "engine/sample/sampling_params.hpp"
#include "engine/serve/step_planner.hpp"

namespace troupe::wire {

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
  // On a request's first token: how long it waited from arrival to its first step (else < 0).
  double queue_seconds = -1;
  std::vector<float> embedding;  // an embedding request's vector, with its finish
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
  // Since the replica's scheduler started: time its worker spent in steps (its rate is the
  // compute utilisation), and the queue time of requests that got their first token.
  double busy_seconds = 0;
  double queue_seconds = 0;
  int64_t queued_requests = 0;  // requests counted in queue_seconds
  // A tensor-parallel replica's ranks, as its worker last collected them; empty for one rank.
  std::vector<parallel::RankStats> tensor_parallel_ranks;
  bool operator==(const ReplicaStats&) const = default;
};

// The scheduler's answer to a submission: accepted, or refused with a request_error code
// (engine/serve/generate_request.hpp).
struct SubmitReply {
  bool accepted = false;
  std::string error;
  std::string message;
  bool operator==(const SubmitReply&) const = default;
};

// scheduler -> request: the request ended without finishing (its worker failed).
struct RequestFailure {
  std::string request_id;
  std::string error;  // a request_error code (engine/serve/generate_request.hpp)
  std::string message;
  bool operator==(const RequestFailure&) const = default;
};

// supervisor -> health monitor: a replica's worker is up (again) or down.
struct WorkerStatus {
  std::string replica;
  bool up = false;
  int32_t restarts = 0;  // since the replica started
  std::string reason;    // why it went down
  bool operator==(const WorkerStatus&) const = default;
};

// The health monitor's view: live while the node runs; ready while it admits requests (not
// draining, and some replica has a worker and reported within its heartbeat window).
struct HealthReport {
  bool live = true;
  bool ready = false;
  bool draining = false;
  std::string reason;  // why not ready
  int32_t restarts = 0;
  std::vector<wire::ReplicaStats> replicas;
  bool operator==(const HealthReport&) const = default;
};

// The cluster protocol's version: a node that speaks another is refused at join.
constexpr int32_t kClusterProtocol = 1;

// replica node -> the front's router: a node asks to take part in the cluster.
struct JoinRequest {
  int32_t protocol = kClusterProtocol;
  std::string node;      // its name, unique in the cluster
  std::string model;     // the model it serves (model_identity), which must be the front's
  double weight = 1.0;   // --weight, for weighted routing
  int32_t capacity = 0;  // sequences it runs at once (--max-num-seqs)
  bool operator==(const JoinRequest&) const = default;
};

// A latency histogram as plain data: counts[i] observations fell at or under bounds[i] (seconds)
// and above the bound before it; the last count, one past the bounds, is for +Inf.
struct LatencyCounts {
  std::vector<double> bounds;
  std::vector<int64_t> counts;
  double sum = 0;  // of the observations, in seconds
  bool operator==(const LatencyCounts&) const = default;
};

// What the front saw of the requests it routed to one node, attempt by attempt: the latency
// that node gave and how often it failed. The front's bridge sends its attempt's with the release;
// the router adds them up per node (cumulative since the front first saw the name).
struct ServedRequests {
  LatencyCounts time_to_first_token;  // from the route's answer to the attempt's first chunk
  LatencyCounts inter_token_latency;  // between consecutive chunks
  int64_t attempts = 0;               // attempts that ended there
  int64_t failed = 0;                 // of which on the server's side (net/metrics/latency_counts)
  bool operator==(const ServedRequests&) const = default;
};

// One node as the front's router sees it.
struct NodeStatus {
  std::string name;
  bool routable = false;    // connected, answering its health polls, not draining
  bool connected = false;   // false once its process or connection is gone
  int32_t outstanding = 0;  // requests routed there that have not ended
  int64_t routed = 0;       // requests routed there in all
  int32_t waiting = 0;      // its queue, as it last reported
  double kv_usage = 0;      // its KV cache in use, 0..1
  double weight = 1;
  int64_t prefix_cache_queries = 0;  // prompt tokens looked up in its prefix cache, in all
  int64_t prefix_cache_hits = 0;     // of which found there
  int64_t health_reports = 0;        // health reports heard from it, in all: a newer count
                                     // means the other fields are from a later report
  // As its replicas last reported (the cumulative ones since each replica started).
  int32_t running = 0;    // sequences in its batches
  int32_t capacity = 0;   // sequences it runs at once (--max-num-seqs)
  bool draining = false;  // drained by troupe drain, or said so in its health
  double busy_seconds = 0;
  int64_t preemptions = 0;
  double queue_seconds = 0;
  int64_t queued_requests = 0;
  ServedRequests served = {};  // as the front measured it
  // Its replicas' tensor-parallel ranks (summed by rank); empty when each has one rank.
  std::vector<parallel::RankStats> tensor_parallel_ranks = {};
  bool operator==(const NodeStatus&) const = default;
};

// One change of the replica count the autoscaler decided (or advised).
struct ScaleEventRecord {
  double unix_seconds = 0;
  int32_t from = 0;
  int32_t to = 0;
  std::string rule;
  std::string reason;
  bool operator==(const ScaleEventRecord&) const = default;
};

// The autoscaler's state on the front (actors/autoscaler): its last decision and recent events.
struct AutoscalerStatus {
  std::string mode;       // "local", "kubernetes"; empty when the front does not autoscale
  bool advisory = false;  // decides and reports, does not act
  int32_t min_replicas = 0;
  int32_t max_replicas = 0;
  int32_t desired = 0;
  int32_t ready = 0;
  int32_t starting = 0;
  int32_t stuck = 0;
  std::string rule;    // whose vote decided the last tick
  std::string reason;  // why
  bool panic = false;
  std::string error;                     // the actuator's last failure, if it failed
  int64_t scale_ups = 0;                 // decisions to add replicas, in all
  int64_t scale_downs = 0;               // decisions to remove replicas, in all
  std::vector<ScaleEventRecord> events;  // the most recent, oldest first
  bool operator==(const AutoscalerStatus&) const = default;
};

// The cluster as the front sees it: GET /cluster and `troupe status`.
struct ClusterStatus {
  std::string routing;
  std::vector<NodeStatus> nodes;
  AutoscalerStatus autoscaler;
  bool operator==(const ClusterStatus&) const = default;
};

// The router's answer: accepted, or refused with the reason.
struct JoinReply {
  bool accepted = false;
  std::string reason;
  bool operator==(const JoinReply&) const = default;
};

}  // namespace troupe::wire
