#pragma once
// The batching engine's flags, with vLLM's names: KV cache size and block size, prefix caching,
// chunked prefill, and the scheduler's per-step limits.
#include <vector>

#include "cli/flags.hpp"
#include "engine/result.hpp"
#include "engine/serve/engine_config.hpp"

namespace troupe::cli {

std::vector<FlagSpec> engine_flags();
Result<EngineConfig> engine_config_from_flags(const Flags& flags);

}  // namespace troupe::cli
