#pragma once
// The actors' message set, in one place: the atoms that name requests, the plain structs they
// carry (engine and wire types, which stay free of CAF) with their CAF inspect functions, and
// register_message_types() for the actor system's config. DESIGN.md lists who sends what.
#include <caf/all.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "engine/serve/generate_request.hpp"
#include "engine/serve/step_plan.hpp"
#include "net/wire/messages.hpp"

namespace troupe {

// request -> scheduler: (submit_atom, wire::EngineRequest) -> SubmitReply
using submit_atom = caf::atom_constant<caf::atom("submit")>;
// request -> scheduler: (abort_atom, request id); frees the request's KV blocks at once
using abort_atom = caf::atom_constant<caf::atom("abort")>;
// scheduler -> worker: (execute_atom, StepPlan) -> StepResult
using execute_atom = caf::atom_constant<caf::atom("execute")>;
// supervisor -> scheduler: (worker_atom, the worker to use from now on)
using worker_atom = caf::atom_constant<caf::atom("worker")>;
// anyone -> scheduler or node: (drain_atom) -> (drain_atom) once nothing is in flight
using drain_atom = caf::atom_constant<caf::atom("drain")>;
// request actor -> itself when its deadline passes
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;
// supervisor -> itself when a backoff ends: (restart_atom)
using restart_atom = caf::atom_constant<caf::atom("restart")>;
// anyone -> health monitor: (subscribe_atom) -> HealthReport now, then one on every change
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
// anyone -> health monitor: (health_atom) -> HealthReport
using health_atom = caf::atom_constant<caf::atom("health")>;
// anyone -> replica supervisor: (scheduler_atom) -> the replica's current scheduler
using scheduler_atom = caf::atom_constant<caf::atom("scheduler")>;
// scheduler -> itself: time to report statistics even when idle
using heartbeat_atom = caf::atom_constant<caf::atom("heartbeat")>;

using wire::HealthReport;
using wire::RequestFailure;
using wire::SubmitReply;
using wire::WorkerStatus;

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, SamplingParams& x) {
  // CAF 0.17 knows no std::optional: the seed travels as a flag and a value.
  bool has_seed = x.seed.has_value();
  uint64_t seed = x.seed.value_or(0);
  return f(caf::meta::type_name("SamplingParams"), x.temperature, x.top_p, x.top_k, x.min_p,
           x.repetition_penalty, x.presence_penalty, x.frequency_penalty, x.logit_bias, has_seed,
           seed, x.n, x.max_tokens, x.stop, x.stop_token_ids, x.ignore_eos, x.logprobs,
           caf::meta::load_callback([&]() -> caf::error {
             x.seed = has_seed ? std::optional<uint64_t>(seed) : std::nullopt;
             return caf::none;
           }));
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, TokenLogprob& x) {
  return f(caf::meta::type_name("TokenLogprob"), x.token, x.logprob);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, SampledToken& x) {
  return f(caf::meta::type_name("SampledToken"), x.token, x.logprob, x.top);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, NewSequence& x) {
  return f(caf::meta::type_name("NewSequence"), x.id, x.params, x.prompt);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ChunkWork& x) {
  return f(caf::meta::type_name("ChunkWork"), x.id, x.start, x.tokens, x.block_table, x.samplers);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, BlockCopy& x) {
  return f(caf::meta::type_name("BlockCopy"), x.from, x.to);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, StepPlan& x) {
  return f(caf::meta::type_name("StepPlan"), x.added, x.released, x.copies, x.chunks);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, SequenceSample& x) {
  return f(caf::meta::type_name("SequenceSample"), x.id, x.token);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, StepResult& x) {
  return f(caf::meta::type_name("StepResult"), x.samples);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ChatTurn& x) {
  return f(caf::meta::type_name("ChatTurn"), x.role, x.content);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, GenerateRequest& x) {
  return f(caf::meta::type_name("GenerateRequest"), x.id, x.messages, x.prompt_tokens, x.prompt,
           x.sampling, x.priority, x.timeout_ms);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, GenerationChunk& x) {
  return f(caf::meta::type_name("GenerationChunk"), x.request_id, x.index, x.text, x.tokens,
           x.finish_reason);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, GenerationEnd& x) {
  return f(caf::meta::type_name("GenerationEnd"), x.request_id, x.prompt_tokens,
           x.completion_tokens, x.error, x.message);
}

namespace wire {
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, EngineRequest& x) {
  return f(caf::meta::type_name("EngineRequest"), x.request_id, x.prompt, x.sampling, x.priority);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, TokenDelta& x) {
  return f(caf::meta::type_name("TokenDelta"), x.request_id, x.index, x.token, x.finish);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ReplicaStats& x) {
  return f(caf::meta::type_name("ReplicaStats"), x.replica, x.running, x.waiting, x.kv_blocks_used,
           x.kv_blocks_free, x.preemptions, x.prefix_cache_queries, x.prefix_cache_hits,
           x.computed_tokens, x.step_seconds);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, WorkerStatus& x) {
  return f(caf::meta::type_name("WorkerStatus"), x.replica, x.up, x.restarts, x.reason);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, SubmitReply& x) {
  return f(caf::meta::type_name("SubmitReply"), x.accepted, x.error, x.message);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, RequestFailure& x) {
  return f(caf::meta::type_name("RequestFailure"), x.request_id, x.error, x.message);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, HealthReport& x) {
  return f(caf::meta::type_name("HealthReport"), x.live, x.ready, x.draining, x.reason, x.restarts,
           x.replicas);
}
}  // namespace wire

// Every message type above, for an actor system that may serialize them (across nodes).
void register_message_types(caf::actor_system_config& config);

}  // namespace troupe
