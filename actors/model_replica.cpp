#include "actors/model_replica.hpp"

#include "engine/serve/model_runner.hpp"

namespace troupe {

ReplicaSetup model_replica(const Model& model, const EngineLayout& layout, int threads) {
  ReplicaSetup replica;
  const Model* m = &model;
  const int kv_blocks = layout.kv_blocks;
  const int block_size = layout.config.block_size;
  replica.worker.make_runner = [m, kv_blocks, block_size, threads] {
    return make_model_runner(*m, kv_blocks, block_size, threads);
  };
  const EngineConfig engine = layout.config;
  replica.scheduler.make_planner = [m, engine] {
    auto planner =
        StepPlanner::create(m->config, engine, [m](int32_t t) { return m->tokenizer.is_eog(t); });
    return std::move(planner.value());  // the layout was planned with this config: it fits
  };
  return replica;
}

}  // namespace troupe
