#pragma once
// The worker actor (the design card's GPU-worker): owns a ModelRunner — the forward pass on its
// device with the KV cache memory, and the samplers — and executes the scheduler's step plans,
// one at a time, on a thread of its own (a detached actor), never on CAF's scheduler threads.
#include <functional>
#include <memory>

#include "actors/messages.hpp"
#include "engine/serve/model_runner.hpp"

namespace troupe {

struct WorkerSetup {
  // Builds the runner when the worker starts (again after each restart); throwing kills the
  // worker as a crash would.
  std::function<std::unique_ptr<ModelRunner>()> make_runner;
  // Called before each step: the fault-injection hook of the tests (it may throw, which kills
  // the worker as a crash would). Empty in production.
  std::function<void(const StepPlan&)> before_step;
};

// (execute_atom, StepPlan) -> StepResult
caf::actor spawn_worker(caf::actor_system& system, WorkerSetup setup);

// Runners over `model` (which must outlive them) on `device` with a KV cache of `kv`'s size. The
// device was checked when the process started, so a failure here throws.
std::function<std::unique_ptr<ModelRunner>()> runner_factory(const Model& model,
                                                             DeviceOptions device, KvShape kv);

}  // namespace troupe
