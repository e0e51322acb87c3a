#pragma once
// The batching engine's flags, with vLLM's names: KV cache size and block size, prefix caching,
// chunked prefill, and the scheduler's per-step limits.
#include <vector>

#include "cli/flags.hpp"
#include "engine/device/forward_pass_factory.hpp"
#include "engine/model/model.hpp"
#include "engine/result.hpp"
#include "engine/serve/engine_config.hpp"

namespace troupe::cli {

std::vector<FlagSpec> engine_flags();
Result<EngineConfig> engine_config_from_flags(const Flags& flags);

// With --device cuda and no --kv-cache-memory, the KV cache gets what --gpu-memory-utilization
// leaves of the GPU after the model's weights and work space (as vLLM sizes it); otherwise
// `engine` keeps --kv-cache-memory's.
Status size_kv_cache(const Flags& flags, const Model& model, const DeviceOptions& device,
                     EngineConfig& engine);

// A server on the CPU without --max-num-batched-tokens: steps of cpu_max_num_batched_tokens for
// its compute threads (chunked prefill only; without it a prompt must fit one step).
void size_step_for_cpu(const Flags& flags, const DeviceOptions& device, EngineConfig& engine);

// On a GPU, what vLLM reports at start: the KV cache in tokens and how many sequences of
// max-model-len fit at once (stderr, one line).
void report_kv_cache(const EngineLayout& layout, const DeviceOptions& device);

}  // namespace troupe::cli
