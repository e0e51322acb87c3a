#include "engine/device/forward_pass_factory.hpp"

#include "engine/model/transformer.hpp"

namespace troupe {

Result<std::unique_ptr<ForwardPass>> make_forward_pass(const Model& model,
                                                       const DeviceOptions& options, KvShape kv) {
  if (auto s = check_device(options.device); !s) return s.error();
  if (!model.weights.shard.whole()) {
    return make_error("tensor parallelism is not built yet: load the whole model");
  }
  return std::unique_ptr<ForwardPass>(std::make_unique<Transformer>(
      model.config, model.weights, std::make_shared<ThreadPool>(options.threads), kv));
}

}  // namespace troupe
