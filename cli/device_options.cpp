#include "cli/device_options.hpp"

namespace troupe::cli {

std::vector<FlagSpec> device_flags() {
  return {{"device", "cpu|cuda", "where the forward pass runs (default cpu)"},
          threads_flag(),
          {"tensor-parallel-size", "N",
           "split the model over N ranks, each with its share of the threads and its own "
           "--kv-cache-memory (default 1)"},
          {"tensor-parallel-logits", "gathered|rank0",
           "each rank computes its share of the vocabulary and the shares are gathered, or rank 0 "
           "computes all logits (default gathered)"},
          {"gpu-memory-utilization", "F",
           "with --device cuda: the share of the GPU's memory this process may use; the KV "
           "cache gets what the weights and work space leave (default 0.9; --kv-cache-memory "
           "sets the KV cache instead)"},
          {"enforce-eager", "",
           "with --device cuda: launch every kernel of every step, without CUDA graphs"},
          {"tensor-parallel-ranks", "threads|processes",
           "ranks 1 .. N-1 as threads of this process, or as processes of their own that meet "
           "this one in shared memory (default threads)"}};
}

Result<DeviceOptions> device_options(const Flags& flags) {
  DeviceOptions o;
  if (auto name = flags.get("device")) {
    auto device = parse_device(*name);
    if (!device) return make_error("flag --device must be cpu or cuda, got '" + *name + "'");
    o.device = *device;
  }
  auto threads = ranged_int(flags, "threads", 0, 0, 1024);
  if (!threads) return threads.error();
  o.threads = static_cast<int>(*threads);
  auto ranks = ranged_int(flags, "tensor-parallel-size", 1, 1, 64);
  if (!ranks) return ranks.error();
  o.tensor_parallel_size = static_cast<int>(*ranks);
  if (auto logits = flags.get("tensor-parallel-logits")) {
    if (*logits != "gathered" && *logits != "rank0")
      return make_error("flag --tensor-parallel-logits must be gathered or rank0, got '" + *logits +
                        "'");
    o.output_split = *logits == "gathered" ? OutputSplit::vocabulary : OutputSplit::leader;
  }
  if (auto ranks_as = flags.get("tensor-parallel-ranks")) {
    if (*ranks_as != "threads" && *ranks_as != "processes")
      return make_error("flag --tensor-parallel-ranks must be threads or processes, got '" +
                        *ranks_as + "'");
    if (*ranks_as == "processes") o.rank_processes = rank_process_launcher();
  }
  if (flags.has("gpu-memory-utilization")) {
    auto share = flags.get_double("gpu-memory-utilization", 0.9);
    if (!share) return share.error();
    if (!(*share > 0.0 && *share <= 1.0))
      return make_error("flag --gpu-memory-utilization must be above 0 and at most 1, got " +
                        flags.get("gpu-memory-utilization").value_or(""));
    if (o.device != Device::cuda)
      return make_error("flag --gpu-memory-utilization is for --device cuda");
    o.gpu_memory_utilization = *share;
  }
  if (flags.has("enforce-eager")) {
    if (o.device != Device::cuda) return make_error("flag --enforce-eager is for --device cuda");
    o.cuda_graphs = false;
  }
  if (auto s = check_device(o.device); !s) return s.error();
  return o;
}

}  // namespace troupe::cli
