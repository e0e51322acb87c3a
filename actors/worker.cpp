#include "actors/worker.hpp"

#include <caf/all.hpp>

#include <stdexcept>

namespace troupe {
namespace {

struct WorkerState {
  std::unique_ptr<ModelRunner> runner;
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

std::function<std::unique_ptr<ModelRunner>()> runner_factory(const Model& model,
                                                             DeviceOptions device, KvShape kv) {
  const Model* m = &model;
  return [m, device, kv] {
    auto runner = make_model_runner(*m, device, kv);
    if (!runner) throw std::runtime_error(runner.message());
    return std::move(*runner);
  };
}

}  // namespace troupe
