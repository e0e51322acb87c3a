#include "engine/device/forward_pass_factory.hpp"

#include "engine/model/transformer.hpp"
#include "engine/parallel/in_process_ranks.hpp"

#ifdef TROUPE_HAVE_CUDA
#include "engine/cuda/cuda_forward_pass.hpp"
#endif

namespace troupe {

Result<std::unique_ptr<ForwardPass>> make_forward_pass(const Model& model,
                                                       const DeviceOptions& options, KvShape kv) {
  if (auto s = check_device(options.device); !s) return s.error();
  const ShardSpec rank0{0, options.tensor_parallel_size, options.output_split};
  if (!model.weights.shard.whole() && model.weights.shard != rank0)
    return make_error(
        "a forward pass takes the whole model or, for a tensor-parallel group, rank "
        "0's shard; the other ranks load their own");
#ifdef TROUPE_HAVE_CUDA
  if (options.device == Device::cuda) {
    if (options.tensor_parallel_size > 1)
      return make_error(
          "--device cuda: tensor parallelism on CUDA is not built yet; use "
          "--tensor-parallel-size 1");
    return make_cuda_forward_pass(model.config, model.weights, kv,
                                  {options.cuda_graphs, options.threads});
  }
#endif
  if (options.tensor_parallel_size > 1) {
    const parallel::GroupOptions group{options.tensor_parallel_size, options.threads,
                                       options.output_split};
    if (options.rank_processes)
      return parallel::make_process_group(model, group, kv, options.rank_processes);
    return parallel::make_in_process_group(model, group, kv);
  }
  return std::unique_ptr<ForwardPass>(std::make_unique<Transformer>(
      model.config, model.weights, std::make_shared<ThreadPool>(options.threads), kv));
}

Result<int64_t> device_kv_cache_budget(const Model& model, const DeviceOptions& options) {
  if (auto s = check_device(options.device); !s) return s.error();
#ifdef TROUPE_HAVE_CUDA
  if (options.device == Device::cuda)
    return cuda_kv_cache_budget(model.config, model.weights, options.gpu_memory_utilization);
#endif
  return make_error("the KV cache on the CPU is sized by --kv-cache-memory");
}

}  // namespace troupe
