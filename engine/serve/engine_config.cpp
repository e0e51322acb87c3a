#include "engine/serve/engine_config.hpp"

#include <algorithm>
#include <string>

#include "engine/kv/kv_cache.hpp"
#include "engine/model/shard_spec.hpp"

namespace troupe {
namespace {

std::string mib(int64_t bytes) {
  return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB";
}

}  // namespace

int cpu_max_num_batched_tokens(int threads) {
  constexpr int kTokensPerThread = 256, kFewest = 512, kMost = 2048;
  return std::clamp(kTokensPerThread * std::max(threads, 1), kFewest, kMost);
}

Result<EngineLayout> plan_engine_layout(EngineConfig config, const ModelConfig& model,
                                        int tensor_parallel_size) {
  auto bad = [](std::string what) { return Result<EngineLayout>(make_error(std::move(what))); };
  if (config.block_size < 1 || config.block_size > 1024) {
    return bad("block-size must be in [1, 1024], got " + std::to_string(config.block_size));
  }
  if (config.max_model_len == 0) config.max_model_len = model.context_length;
  if (config.max_model_len < 2 || config.max_model_len > model.context_length) {
    return bad("max-model-len must be in [2, " + std::to_string(model.context_length) +
               "] (the model's context), got " + std::to_string(config.max_model_len));
  }
  SchedulerConfig& sched = config.scheduler;
  if (sched.max_num_seqs < 1) {
    return bad("max-num-seqs must be >= 1, got " + std::to_string(sched.max_num_seqs));
  }
  if (sched.max_num_batched_tokens == 0) {  // vLLM's default: 2048, or a whole prompt
    sched.max_num_batched_tokens =
        sched.enable_chunked_prefill ? 2048 : std::max(2048, config.max_model_len);
  }
  if (sched.max_num_batched_tokens < 1) {
    return bad("max-num-batched-tokens must be >= 1, got " +
               std::to_string(sched.max_num_batched_tokens));
  }
  if (!sched.enable_chunked_prefill && sched.max_num_batched_tokens < config.max_model_len) {
    return bad("without chunked prefill, max-num-batched-tokens (" +
               std::to_string(sched.max_num_batched_tokens) + ") must be at least max-model-len (" +
               std::to_string(config.max_model_len) +
               ") so that any prompt fits one step: raise it or lower max-model-len");
  }
  const ShardSpec rank0{0, tensor_parallel_size};
  if (auto s = check_shard(model, rank0); !s) return s.error();
  const int64_t block_bytes =
      KvCache::bytes_per_block(rank_config(model, rank0), config.block_size);
  const int64_t blocks = config.kv_cache_memory / block_bytes;
  const int64_t needed = (config.max_model_len + config.block_size - 1) / config.block_size;
  if (blocks < needed) {
    return bad("the KV cache budget of " + mib(config.kv_cache_memory) + " holds " +
               std::to_string(blocks * config.block_size) + " tokens, but one sequence of " +
               "max-model-len " + std::to_string(config.max_model_len) + " needs " +
               mib(needed * block_bytes) + ": raise --kv-cache-memory or lower --max-model-len");
  }
  if (blocks > (int64_t{1} << 30)) return bad("kv-cache-memory is too large");
  return EngineLayout{config, static_cast<int>(blocks)};
}

}  // namespace troupe
