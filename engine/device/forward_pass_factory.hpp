#pragma once
// Builds the forward pass of a loaded model for a device.
#include <memory>

#include "engine/device/device.hpp"
#include "engine/device/forward_pass.hpp"
#include "engine/model/model.hpp"
#include "engine/model/shard_spec.hpp"
#include "engine/parallel/process_ranks.hpp"
#include "engine/result.hpp"

namespace troupe {

struct DeviceOptions {
  Device device = Device::cpu;
  int threads =
      0;  // CPU: threads of the forward pass's pool(s); CUDA: the sampler's; 0: every core
  // Ranks of a tensor-parallel group (vLLM's --tensor-parallel-size), each with its share of
  // the threads; and which ranks compute the logits.
  int tensor_parallel_size = 1;
  OutputSplit output_split = OutputSplit::vocabulary;
  // Set: ranks 1 .. N-1 run as processes this starts (process_ranks.hpp); empty: as threads.
  parallel::RankLauncher rank_processes;
  // CUDA: the share of the device's memory the process may use (vLLM's
  // --gpu-memory-utilization); the KV cache gets what weights and work space leave of it.
  double gpu_memory_utilization = 0.9;
  // CUDA: decode-sized steps replay CUDA graphs (false: vLLM's --enforce-eager).
  bool cuda_graphs = true;
};

// The CPU with `threads` threads, split over `ranks` tensor-parallel ranks (threads of this
// process).
inline DeviceOptions on_cpu(int threads, int ranks = 1,
                            OutputSplit output = OutputSplit::vocabulary) {
  DeviceOptions o;
  o.threads = threads;
  o.tensor_parallel_size = ranks;
  o.output_split = output;
  return o;
}

// The shard a process that leads a group needs of the model: rank 0's (all of it for one rank).
inline ShardSpec model_shard(const DeviceOptions& options) {
  return {0, options.tensor_parallel_size, options.output_split};
}

// A forward pass over `model`'s weights (the whole model's, or rank 0's shard when a group's
// leader loaded only that: load_model(path, model_shard(options))) with a KV cache of
// `kv`'s size, independent of any other pass over the same model: one pass, or a group of
// tensor-parallel ranks behind its leader. Errors: check_device's; a model that does not split
// among the ranks.
Result<std::unique_ptr<ForwardPass>> make_forward_pass(const Model& model,
                                                       const DeviceOptions& options, KvShape kv);

// Bytes of KV cache a GPU pass of `model` may have under options.gpu_memory_utilization (only for
// --device cuda; the CPU's is --kv-cache-memory). Errors in one line: no device, no room.
Result<int64_t> device_kv_cache_budget(const Model& model, const DeviceOptions& options);

}  // namespace troupe
