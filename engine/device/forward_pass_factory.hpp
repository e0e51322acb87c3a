#pragma once
// Builds the forward pass of a loaded model for a device.
#include <memory>

#include "engine/device/device.hpp"
#include "engine/device/forward_pass.hpp"
#include "engine/model/model.hpp"
#include "engine/result.hpp"

namespace troupe {

struct DeviceOptions {
  Device device = Device::cpu;
  int threads = 0;  // CPU: threads of the forward pass's pool, 0 for every core
};

// A forward pass over `model`'s weights with a KV cache of `kv`'s size, independent of any
// other pass over the same model. Errors: check_device's; a tensor-parallel shard (not built yet).
Result<std::unique_ptr<ForwardPass>> make_forward_pass(const Model& model,
                                                       const DeviceOptions& options, KvShape kv);

}  // namespace troupe
