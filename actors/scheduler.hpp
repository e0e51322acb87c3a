#pragma once
// The scheduler actor: one per model replica. Owns the engine's scheduling half (a StepPlanner:
// queues, KV bookkeeping, finish rules) and runs the step loop — plan, send the plan to its
// worker, take the sampled tokens back, fan TokenDeltas out to the request actors — one step in
// flight at a time. Backpressure: at most max_waiting requests wait; beyond that a submission
// is refused as overloaded. When its worker dies it rebuilds its state from the live requests:
// those that had no token yet wait for the next worker, the others end with worker_failed.
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "actors/messages.hpp"
#include "engine/serve/step_planner.hpp"

namespace troupe {

struct SchedulerSetup {
  std::string replica = "replica-0";  // its name in statistics
  // Fresh scheduling state: at start and after a worker failure.
  std::function<std::unique_ptr<StepPlanner>()> make_planner;
  int max_waiting = 1024;       // --max-waiting
  caf::actor stats_subscriber;  // gets a wire::ReplicaStats after each step and abort; optional
  std::chrono::milliseconds heartbeat{1000};  // and at least this often, even when idle
};

// Speaks: (submit_atom, wire::EngineRequest) -> SubmitReply; (abort_atom, id) and
// (abort_atom, id, sample index) from the submitting actor only;
// (worker_atom, worker); (drain_atom) -> drain_atom once no request is live.
// Sends: wire::TokenDelta and RequestFailure to the submitting actor.
caf::actor spawn_scheduler(caf::actor_system& system, SchedulerSetup setup);

}  // namespace troupe
