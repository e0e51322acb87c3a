#pragma once
// A replica of a loaded model: the worker builds a runner over the model's weights on the device,
// with its own KV blocks; the scheduler plans with the engine config.
#include "actors/supervisor.hpp"
#include "engine/serve/engine_config.hpp"

namespace troupe {

// `model` must outlive the replica. `layout` comes from plan_engine_layout; `device` passed
// check_device.
ReplicaSetup model_replica(const Model& model, const EngineLayout& layout,
                           const DeviceOptions& device);

}  // namespace troupe
