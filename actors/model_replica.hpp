#pragma once
// A replica of a loaded model on this process's CPU: the worker builds a runner over the model's
// weights with its own KV blocks and thread pool; the scheduler plans with the engine config.
#include "actors/supervisor.hpp"
#include "engine/serve/engine_config.hpp"

namespace troupe {

// `model` must outlive the replica. `layout` comes from plan_engine_layout; threads = 0: every
// core.
ReplicaSetup model_replica(const Model& model, const EngineLayout& layout, int threads = 0);

}  // namespace troupe
