#include "actors/worker.hpp"

#include "kernels/cpu/communicator.hpp"

namespace troupe {
namespace {

struct WorkerState {
  std::shared_ptr<ModelRunner> runner;
  SingleRankCommunicator tensor_parallel;  // size 1: one rank per replica on the CPU
  static inline const char* name = "worker";
};

caf::behavior worker(caf::stateful_actor<WorkerState>* self, WorkerSetup setup) {
  self->state.runner = setup.make_runner();
  return {
      [self, setup](execute_atom, const StepPlan& plan) -> StepResult {
        if (setup.before_step) setup.before_step(plan);
        return self->state.runner->execute(plan);
      },
  };
}

}  // namespace

caf::actor spawn_worker(caf::actor_system& system, WorkerSetup setup) {
  return system.spawn<caf::detached>(worker, std::move(setup));
}

}  // namespace troupe
