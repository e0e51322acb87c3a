#pragma once
// The actors' message set, in one place: the atoms that name requests, the plain structs they
// carry (engine and wire types, which stay free of CAF) with their CAF inspect function (their
// msgpack encoding), and configure_actor_system() for the actor system's config.
// ARCHITECTURE.md lists who sends what.
// Only the small CAF headers the message set needs: every actor header includes this one, and
// caf/all.hpp belongs in the .cpp files that spawn and run actors.
#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/none.hpp>
#include <caf/sec.hpp>
#include <cstdint>
#include <string>

#include "engine/serve/generate_request.hpp"
#include "engine/serve/step_plan.hpp"
#include "net/wire/codec.hpp"
#include "net/wire/messages.hpp"

namespace troupe {

// request -> scheduler: (submit_atom, wire::EngineRequest) -> SubmitReply
using submit_atom = caf::atom_constant<caf::atom("submit")>;
// request -> scheduler: (abort_atom, request id); frees the request's KV blocks at once.
// (abort_atom, request id, sample index): ends that one sample (n > 1, it met a stop string)
using abort_atom = caf::atom_constant<caf::atom("abort")>;
// scheduler -> worker: (execute_atom, StepPlan) -> StepResult
using execute_atom = caf::atom_constant<caf::atom("execute")>;
// supervisor -> scheduler: (worker_atom, the worker to use from now on)
using worker_atom = caf::atom_constant<caf::atom("worker")>;
// anyone -> scheduler or supervisor: (drain_atom) -> (drain_atom) once nothing is in flight;
// anyone -> node: (drain_atom) -> (drain_atom, bool finished_in_time)
using drain_atom = caf::atom_constant<caf::atom("drain")>;
// request actor -> itself when its deadline passes
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;
// supervisor -> itself when a backoff ends: (restart_atom)
using restart_atom = caf::atom_constant<caf::atom("restart")>;
// anyone -> health monitor: (subscribe_atom) -> HealthReport now, then one on every change
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
// anyone -> health monitor or node: (health_atom) -> HealthReport
using health_atom = caf::atom_constant<caf::atom("health")>;
// anyone -> replica supervisor or node: (scheduler_atom) -> a replica's current scheduler
using scheduler_atom = caf::atom_constant<caf::atom("scheduler")>;
// an actor -> itself on its timer: time for its periodic work (a scheduler's statistics even when
// idle, a router's health polls, a watcher's refresh, a member's heartbeat)
using tick_atom = caf::atom_constant<caf::atom("tick")>;
// replica node's member -> router: (heartbeat_atom, name, wire::HealthReport), its pushed health
using heartbeat_atom = caf::atom_constant<caf::atom("heartbeat")>;
// replica node -> router: (join_atom, wire::JoinRequest, node) -> wire::JoinReply
using join_atom = caf::atom_constant<caf::atom("join")>;
// front -> router: (route_atom, prefix key, excluded names) -> (name, node)
using route_atom = caf::atom_constant<caf::atom("route")>;
// front -> router: (release_atom, name, bridge address, wire::ServedRequests) when a request
// routed there ends, with what the front measured of that attempt
using release_atom = caf::atom_constant<caf::atom("release")>;
// router -> front bridges: (unreachable_atom, name) when a node they use is lost
using unreachable_atom = caf::atom_constant<caf::atom("unreach")>;
// front -> router: (undrain_atom, name) -> int32_t, an api::UndrainResult
using undrain_atom = caf::atom_constant<caf::atom("undrain")>;
// anyone -> router: (status_atom) -> wire::ClusterStatus
using status_atom = caf::atom_constant<caf::atom("status")>;
// autoscaler -> router: (autoscale_atom, wire::AutoscalerStatus) after each decision, shown in
// the ClusterStatus
using autoscale_atom = caf::atom_constant<caf::atom("autoscale")>;

using wire::HealthReport;
using wire::RequestFailure;
using wire::SubmitReply;
using wire::WorkerStatus;

// CAF serializes each message type as its versioned msgpack encoding (net/wire/codec), so what
// crosses between nodes is that schema, and nodes of two adjacent releases can share a cluster
// during a rolling update. Inside a process CAF passes the values themselves, never these bytes.
template <class Inspector, class T>
requires wire::kIsMessage<T>
typename Inspector::result_type inspect(Inspector& f, T& x) {
  if constexpr (Inspector::writes_state) {  // reading bytes from another node
    std::string bytes;
    if (auto error = f(bytes)) return error;
    auto decoded = wire::decode<T>(bytes);
    if (!decoded) return caf::make_error(caf::sec::invalid_argument, decoded.message());
    x = std::move(*decoded);
    return caf::none;
  } else {
    std::string bytes = wire::encode(x);
    return f(bytes);
  }
}

namespace wire {
using troupe::inspect;  // found by argument-dependent lookup for the wire types too
}  // namespace wire

// Every message type above, for an actor system that may serialize them (across nodes), and a
// scheduler whose idle threads sleep instead of spinning: the model's thread pool needs every
// core, and CAF's default polling halved decode speed on 2 cores.
void configure_actor_system(caf::actor_system_config& config);

}  // namespace troupe
