#include "cli/engine_options.hpp"

#include <cstdio>
#include <limits>

#include "engine/serve/byte_size.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace troupe::cli {
namespace {

// --NAME and --no-NAME: the last word wins over `fallback`; both at once is an error.
Result<bool> switch_flag(const Flags& flags, const std::string& name, bool fallback) {
  const bool on = flags.has(name), off = flags.has("no-" + name);
  if (on && off) return make_error("give --" + name + " or --no-" + name + ", not both");
  return on ? true : off ? false : fallback;
}

// A positive count: 0 is not a way to ask for the default, which is what leaving a flag out is.
Status int_flag(const Flags& flags, const std::string& name, int& out) {
  if (!flags.has(name)) return Ok{};
  auto v = flags.get_int(name, 0);
  if (!v) return v.error();
  if (*v < 1 || *v > std::numeric_limits<int>::max()) {
    return make_error("flag --" + name + " must be a positive integer, got " + std::to_string(*v));
  }
  out = static_cast<int>(*v);
  return Ok{};
}

}  // namespace

std::vector<FlagSpec> engine_flags() {
  return {
      {"kv-cache-memory", "BYTES", "memory for the KV cache, e.g. 2GiB (default 1GiB)"},
      {"block-size", "N", "tokens per KV cache block (default 16)"},
      {"max-model-len", "N", "most tokens of prompt and output together (default: the model's)"},
      {"max-num-seqs", "N", "most sequences in a batch (default 256)"},
      {"max-num-batched-tokens", "N",
       "most tokens computed in one step (default 2048; a server on the CPU: 256 a thread, "
       "512 to 2048)"},
      {"enable-prefix-caching", "", "reuse the KV blocks of shared prompt prefixes (default)"},
      {"no-enable-prefix-caching", "", "compute every prompt in full"},
      {"enable-chunked-prefill", "", "split long prompts across steps, decodes first (default)"},
      {"no-enable-chunked-prefill", "", "compute each prompt in one step"},
  };
}

Result<EngineConfig> engine_config_from_flags(const Flags& flags) {
  EngineConfig config;
  if (auto bytes = flags.get("kv-cache-memory")) {
    auto parsed = parse_byte_size(*bytes);
    if (!parsed) return make_error("flag --kv-cache-memory: " + parsed.message());
    config.kv_cache_memory = *parsed;
  }
  SchedulerConfig& sched = config.scheduler;
  for (const Status& s :
       {int_flag(flags, "block-size", config.block_size),
        int_flag(flags, "max-model-len", config.max_model_len),
        int_flag(flags, "max-num-seqs", sched.max_num_seqs),
        int_flag(flags, "max-num-batched-tokens", sched.max_num_batched_tokens)}) {
    if (!s) return s.error();
  }
  auto prefix = switch_flag(flags, "enable-prefix-caching", true);
  if (!prefix) return prefix.error();
  config.enable_prefix_caching = *prefix;
  auto chunked = switch_flag(flags, "enable-chunked-prefill", true);
  if (!chunked) return chunked.error();
  sched.enable_chunked_prefill = *chunked;
  // Without chunking a prompt must fit one step: vLLM raises the budget to the model length.
  if (!sched.enable_chunked_prefill && !flags.has("max-num-batched-tokens")) {
    sched.max_num_batched_tokens = 0;
  }
  return config;
}

Status size_kv_cache(const Flags& flags, const Model& model, const DeviceOptions& device,
                     EngineConfig& engine) {
  if (device.device != Device::cuda || flags.has("kv-cache-memory")) return Ok{};
  auto budget = device_kv_cache_budget(model, device);
  if (!budget) return budget.error();
  engine.kv_cache_memory = *budget;
  return Ok{};
}

void size_step_for_cpu(const Flags& flags, const DeviceOptions& device, EngineConfig& engine) {
  if (device.device != Device::cpu || flags.has("max-num-batched-tokens") ||
      !engine.scheduler.enable_chunked_prefill) {
    return;
  }
  engine.scheduler.max_num_batched_tokens =
      cpu_max_num_batched_tokens(ThreadPool::size_for(device.threads));
}

void report_kv_cache(const EngineLayout& layout, const DeviceOptions& device) {
  if (device.device != Device::cuda) return;
  const int64_t tokens = int64_t{layout.kv_blocks} * layout.config.block_size;
  std::fprintf(stderr,
               "troupe: KV cache: %lld tokens (%.2f GiB), %.2f concurrent sequences at "
               "max-model-len %d\n",
               static_cast<long long>(tokens),
               static_cast<double>(layout.config.kv_cache_memory) / (1 << 30),
               static_cast<double>(tokens) / layout.config.max_model_len,
               layout.config.max_model_len);
}

}  // namespace troupe::cli
