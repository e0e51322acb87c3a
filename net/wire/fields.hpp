#pragma once
// The fields of every actor message type and of the structs inside them, listed once:
// describe(visitor, value) calls visitor(name, field) for each field in order. The msgpack codec
// (net/wire/codec) writes and reads through it; CAF carries the codec's bytes between nodes
// (actors/messages.hpp).
#include "engine/serve/generate_request.hpp"
#include "engine/serve/step_plan.hpp"
#include "net/wire/messages.hpp"

namespace troupe::wire {

template <class V>
void describe(V& v, TokenLogprob& x) {
  v("token", x.token)("logprob", x.logprob);
}
template <class V>
void describe(V& v, SampledToken& x) {
  v("token", x.token)("logprob", x.logprob)("top", x.top);
}
template <class V>
void describe(V& v, SamplingParams& x) {
  v("temperature", x.temperature)("top_p", x.top_p)("top_k", x.top_k)("min_p", x.min_p)(
      "repetition_penalty", x.repetition_penalty)("presence_penalty", x.presence_penalty)(
      "frequency_penalty", x.frequency_penalty)("logit_bias", x.logit_bias)("seed", x.seed)(
      "n", x.n)("max_tokens", x.max_tokens)("stop", x.stop)("stop_token_ids", x.stop_token_ids)(
      "ignore_eos", x.ignore_eos)("logprobs", x.logprobs)("grammar", x.grammar)("pooling",
                                                                                x.pooling);
}
template <class V>
void describe(V& v, EngineRequest& x) {
  v("request_id", x.request_id)("prompt", x.prompt)("sampling", x.sampling)("priority", x.priority);
}
template <class V>
void describe(V& v, TokenDelta& x) {
  v("request_id", x.request_id)("index", x.index)("token", x.token)("finish", x.finish)(
      "queue_seconds", x.queue_seconds)("embedding", x.embedding);
}
template <class V>
void describe(V& v, ReplicaStats& x) {
  v("replica", x.replica)("running", x.running)("waiting", x.waiting)(
      "kv_blocks_used", x.kv_blocks_used)("kv_blocks_free", x.kv_blocks_free)(
      "preemptions", x.preemptions)("prefix_cache_queries", x.prefix_cache_queries)(
      "prefix_cache_hits", x.prefix_cache_hits)("computed_tokens", x.computed_tokens)(
      "step_seconds", x.step_seconds)("busy_seconds", x.busy_seconds)(
      "queue_seconds", x.queue_seconds)("queued_requests", x.queued_requests)(
      "tensor_parallel_ranks", x.tensor_parallel_ranks);
}
template <class V>
void describe(V& v, SubmitReply& x) {
  v("accepted", x.accepted)("error", x.error)("message", x.message);
}
template <class V>
void describe(V& v, RequestFailure& x) {
  v("request_id", x.request_id)("error", x.error)("message", x.message);
}
template <class V>
void describe(V& v, WorkerStatus& x) {
  v("replica", x.replica)("up", x.up)("restarts", x.restarts)("reason", x.reason);
}
template <class V>
void describe(V& v, HealthReport& x) {
  v("live", x.live)("ready", x.ready)("draining", x.draining)("reason", x.reason)(
      "restarts", x.restarts)("replicas", x.replicas);
}
template <class V>
void describe(V& v, JoinRequest& x) {
  v("protocol", x.protocol)("node", x.node)("model", x.model)("weight", x.weight)("capacity",
                                                                                  x.capacity);
}
template <class V>
void describe(V& v, LatencyCounts& x) {
  v("bounds", x.bounds)("counts", x.counts)("sum", x.sum);
}
template <class V>
void describe(V& v, ServedRequests& x) {
  v("time_to_first_token", x.time_to_first_token)("inter_token_latency", x.inter_token_latency)(
      "attempts", x.attempts)("failed", x.failed);
}
template <class V>
void describe(V& v, NodeStatus& x) {
  v("name", x.name)("routable", x.routable)("connected", x.connected)("outstanding", x.outstanding)(
      "routed", x.routed)("waiting", x.waiting)("kv_usage", x.kv_usage)("weight", x.weight)(
      "prefix_cache_queries", x.prefix_cache_queries)("prefix_cache_hits", x.prefix_cache_hits)(
      "health_reports", x.health_reports)("running", x.running)("capacity", x.capacity)(
      "draining", x.draining)("busy_seconds", x.busy_seconds)("preemptions", x.preemptions)(
      "queue_seconds", x.queue_seconds)("queued_requests", x.queued_requests)("served", x.served)(
      "tensor_parallel_ranks", x.tensor_parallel_ranks);
}
template <class V>
void describe(V& v, ScaleEventRecord& x) {
  v("unix_seconds", x.unix_seconds)("from", x.from)("to", x.to)("rule", x.rule)("reason", x.reason);
}
template <class V>
void describe(V& v, AutoscalerStatus& x) {
  v("mode", x.mode)("advisory", x.advisory)("min_replicas", x.min_replicas)(
      "max_replicas", x.max_replicas)("desired", x.desired)("ready", x.ready)(
      "starting", x.starting)("stuck", x.stuck)("rule", x.rule)("reason", x.reason)(
      "panic", x.panic)("error", x.error)("scale_ups", x.scale_ups)("scale_downs", x.scale_downs)(
      "events", x.events);
}
template <class V>
void describe(V& v, ClusterStatus& x) {
  v("routing", x.routing)("nodes", x.nodes)("autoscaler", x.autoscaler);
}
template <class V>
void describe(V& v, JoinReply& x) {
  v("accepted", x.accepted)("reason", x.reason);
}
template <class V>
void describe(V& v, NewSequence& x) {
  v("id", x.id)("params", x.params)("prompt", x.prompt);
}
template <class V>
void describe(V& v, ChunkWork& x) {
  v("id", x.id)("start", x.start)("tokens", x.tokens)("block_table", x.block_table)("samplers",
                                                                                    x.samplers);
}
template <class V>
void describe(V& v, BlockCopy& x) {
  v("from", x.from)("to", x.to);
}
template <class V>
void describe(V& v, StepPlan& x) {
  v("added", x.added)("released", x.released)("copies", x.copies)("chunks", x.chunks);
}
template <class V>
void describe(V& v, SequenceSample& x) {
  v("id", x.id)("token", x.token)("embedding", x.embedding);
}
template <class V>
void describe(V& v, parallel::CollectiveStats& x) {
  v("all_reduces", x.all_reduces)("all_gathers", x.all_gathers)("broadcasts", x.broadcasts)(
      "seconds", x.seconds);
}
template <class V>
void describe(V& v, parallel::RankStats& x) {
  v("rank", x.rank)("steps", x.steps)("step_seconds", x.step_seconds)(
      "step_collective_seconds", x.step_collective_seconds)("collectives", x.collectives);
}
template <class V>
void describe(V& v, StepResult& x) {
  v("samples", x.samples)("ranks", x.ranks);
}
template <class V>
void describe(V& v, ChatTurn& x) {
  v("role", x.role)("content", x.content)("tool_calls", x.tool_calls)("tool_call_id",
                                                                      x.tool_call_id);
}
template <class V>
void describe(V& v, GenerateRequest& x) {
  v("id", x.id)("messages", x.messages)("prompt_tokens", x.prompt_tokens)("prompt", x.prompt)(
      "sampling", x.sampling)("priority", x.priority)("timeout_ms", x.timeout_ms)("tools", x.tools);
}
template <class V>
void describe(V& v, GenerationChunk& x) {
  v("request_id", x.request_id)("index", x.index)("text", x.text)("tokens", x.tokens)(
      "finish_reason", x.finish_reason)("prompt_tokens", x.prompt_tokens)(
      "queue_seconds", x.queue_seconds)("embedding", x.embedding);
}
template <class V>
void describe(V& v, GenerationEnd& x) {
  v("request_id", x.request_id)("prompt_tokens", x.prompt_tokens)(
      "completion_tokens", x.completion_tokens)("error", x.error)("message", x.message);
}

// A visitor that looks at nothing, to ask whether a type has a describe().
struct NoVisit {
  template <typename T>
  NoVisit& operator()(const char*, T&) {
    return *this;
  }
};
template <typename T>
concept Described = requires(NoVisit& v, T& x) {
  describe(v, x);
};

}  // namespace troupe::wire
