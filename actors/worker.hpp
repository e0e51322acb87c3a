#pragma once
// The worker actor (the design card's GPU-worker; the CPU today): owns a ModelRunner — its model
// shard, KV cache memory and samplers — and its tensor-parallel communicator (one rank for now),
// and executes the scheduler's step plans, one at a time, on a thread of its own (a detached
// actor), never on CAF's scheduler threads.
#include <functional>
#include <memory>

#include "actors/messages.hpp"
#include "engine/serve/model_runner.hpp"

namespace troupe {

struct WorkerSetup {
  // Builds the runner when the worker starts (again after each restart). The shared_ptr may
  // alias a larger bundle that owns the model and thread pool behind the runner.
  std::function<std::shared_ptr<ModelRunner>()> make_runner;
  // Called before each step: the fault-injection hook of the tests (it may throw, which kills
  // the worker as a crash would). Empty in production.
  std::function<void(const StepPlan&)> before_step;
};

// (execute_atom, StepPlan) -> StepResult
caf::actor spawn_worker(caf::actor_system& system, WorkerSetup setup);

}  // namespace troupe
