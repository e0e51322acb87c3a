#pragma once
// The knobs of the batching engine, with vLLM's names and defaults where vLLM has them.
#include <cstdint>

#include "engine/model/model_config.hpp"
#include "engine/result.hpp"
#include "engine/sched/scheduler.hpp"

namespace troupe {

struct EngineConfig {
  int block_size = 16;                         // tokens per KV block (--block-size)
  int64_t kv_cache_memory = int64_t{1} << 30;  // bytes of K/V (--kv-cache-memory)
  bool enable_prefix_caching = true;           // --enable-prefix-caching
  int max_model_len = 0;                       // prompt + output tokens; 0: the model's context
  bool prefault_kv_cache = true;               // the KV cache's pages faulted in up front
  SchedulerConfig scheduler;                   // --max-num-batched-tokens, --max-num-seqs, ...
};

// The default of --max-num-batched-tokens where the forward pass runs on `threads` CPU threads
// (vLLM's 2048 elsewhere): 256 tokens a thread, at least 512 (a 512-token prompt in one step)
// and at most 2048. A CPU computes some 1000 prompt tokens a second a thread, so a step of
// 2048 tokens on 2 threads takes about a second, and every prompt queued behind it waits that
// long for its first token; at 256 a thread a step stays near an eighth of a second. Measured
// at 32 concurrent (128 in, 128 out) on 2 threads: mean TTFT 1145-1254 ms at 2048 against
// 645-665 ms at 512, output tok/s 778-838 against 819-859 (bench/README.md).
int cpu_max_num_batched_tokens(int threads);

// The config with max_model_len resolved, and the number of KV blocks it buys; or what is wrong,
// e.g. a KV budget too small for one sequence of max_model_len, naming the bytes needed.
struct EngineLayout {
  EngineConfig config;
  int kv_blocks = 0;
};
// With tensor parallelism each of the `tensor_parallel_size` ranks holds its KV heads' slice of
// every block, and --kv-cache-memory is each rank's budget (as vLLM's is each device's); the
// model must split among the ranks.
Result<EngineLayout> plan_engine_layout(EngineConfig config, const ModelConfig& model,
                                        int tensor_parallel_size = 1);

}  // namespace troupe
