#pragma once
// The deployment planner: how a model fits in a device's (or a pod's) memory. From what sizing
// needs of a model (its weights, and the shape that sets its KV cache) and the memory there is,
// the KV bytes per token (grouped-query aware: 2 x layers x kv_heads x head_dim x the cache
// type's bytes), the KV tokens that fit beside the weights, the sequences that run at once at
// max-model-len, the memory to request and limit, and a quantization that fits when the weights
// do not. A pure function over plain data: `troupe plan` prints it, `troupe deploy k8s` sizes
// pods with it.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/result.hpp"

namespace troupe::plan {

struct ModelShape {
  std::string name;
  int layers = 0;
  int kv_heads = 0;
  int head_dim = 0;
  int context_length = 0;    // the model's longest context
  int64_t parameters = 0;    // weights, in elements
  int64_t weight_bytes = 0;  // as stored (GGUF: the tensors' bytes; config.json: its dtype's)
  std::string weight_type;   // "Q4_1", "BF16", "mixed" ...
  int heads = 0;             // query heads and feed-forward features: with the KV heads they
  int64_t feed_forward = 0;  // bound the tensor-parallel sizes
};

struct PlanRequest {
  ModelShape model;
  int64_t device_memory = 0;   // bytes: the GPU's, or the pod's for the CPU path
  int max_model_len = 0;       // 0: the model's context length
  int kv_bytes_per_value = 2;  // troupe's KV cache is F16
  // The share of the memory troupe may use (vLLM's --gpu-memory-utilization), and what the
  // process needs beside weights and KV cache (activations, the tokenizer, the HTTP server).
  double utilisation = 0.9;
  int64_t runtime_overhead = int64_t{512} << 20;
  // On a GPU the KV cache and weights live in device memory, and the pod's own memory holds
  // the weights' file mapping while they load and the process; on the CPU it holds everything.
  bool on_gpu = false;
  // Ranks of a tensor-parallel group (Megatron's layout): every matrix is split over them, and
  // the KV heads too when there are at least as many, else each rank keeps one (replicated).
  // `device_memory` is then each rank's device.
  int tensor_parallel = 1;
};

struct DeploymentPlan {
  int64_t weight_bytes = 0;
  int64_t kv_bytes_per_token = 0;
  int max_model_len = 0;
  int64_t kv_cache_bytes = 0;        // what is left for the KV cache (--kv-cache-memory)
  int64_t kv_tokens = 0;             // tokens of KV cache that fit
  int64_t concurrent_sequences = 0;  // at max_model_len each
  int64_t memory_request =
      0;  // the pod's: weights + KV cache + overhead (on a GPU: weights + overhead)
  int64_t memory_limit = 0;  // the request and a tenth more
  // Per rank of the tensor-parallel group (the whole model's at size 1).
  int tensor_parallel = 1;
  int64_t weight_bytes_per_rank = 0;
  int kv_heads_per_rank = 0;
  bool kv_heads_replicated = false;  // fewer KV heads than ranks: each rank holds one of them
  int64_t kv_bytes_per_token_per_rank = 0;
};

// Errors, one line: a shape that cannot be planned (no layers, heads ...), or weights and
// overhead that leave no room for one sequence at max-model-len, with the quantization that
// would fit (or that none would).
Result<DeploymentPlan> plan_deployment(const PlanRequest& request);

// The tensor-parallel sizes the model can be split into: those dividing its query heads whose
// KV heads they divide, or that divide them (KV heads then replicated). Empty when the heads
// are unknown.
std::vector<int> tensor_parallel_sizes(const ModelShape& model);
// Why `size` cannot split the model (one line, naming the numbers and the valid sizes), or
// nullopt when it can.
std::optional<std::string> tensor_parallel_refusal(const ModelShape& model, int size);
// The smallest valid size up to `devices` at which the model fits `request`'s memory per device,
// or why none does (the plan's error at the largest valid size).
Result<int> recommend_tensor_parallel(PlanRequest request, int devices);

// Bits per weight of the quantizations troupe runs, for the suggestion; nullopt for others.
std::optional<double> bits_per_weight(const std::string& type);

// "1.5 GiB", "23,040 B" style, for people.
std::string human_bytes(int64_t bytes);

}  // namespace troupe::plan
