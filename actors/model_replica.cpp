#include "actors/model_replica.hpp"

namespace troupe {

ReplicaSetup model_replica(const Model& model, const EngineLayout& layout,
                           const DeviceOptions& device) {
  ReplicaSetup replica;
  const Model* m = &model;
  replica.worker.make_runner =
      runner_factory(model, device, KvShape{layout.kv_blocks, layout.config.block_size});
  const EngineConfig engine = layout.config;
  const int ranks = device.tensor_parallel_size;
  replica.scheduler.make_planner = [m, engine, ranks] {
    auto planner = StepPlanner::create(
        m->config, engine, [m](int32_t t) { return m->tokenizer.is_eog(t); }, ranks);
    return std::move(planner.value());  // the layout was planned with this config: it fits
  };
  return replica;
}

}  // namespace troupe
