#include "actors/worker.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>

namespace troupe {
namespace {

// How often a tensor-parallel worker collects its ranks' totals for the metrics: each
// collection is a collective of its own, so not with every step.
constexpr std::chrono::seconds kRankStatsEvery{1};

struct WorkerState {
  std::unique_ptr<ModelRunner> runner;
  std::optional<std::chrono::steady_clock::time_point> ranks_collected;
  static inline const char* name = "worker";
};

caf::behavior worker(caf::stateful_actor<WorkerState>* self, WorkerSetup setup) {
  self->state.runner = setup.make_runner();
  return {
      [self, setup](execute_atom, const StepPlan& plan) -> StepResult {
        if (setup.before_step) setup.before_step(plan);
        auto& s = self->state;
        StepResult result = s.runner->execute(plan);
        const auto now = std::chrono::steady_clock::now();
        if (!s.ranks_collected || now - *s.ranks_collected >= kRankStatsEvery) {
          result.ranks = s.runner->rank_stats();
          s.ranks_collected = now;
        }
        return result;
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
