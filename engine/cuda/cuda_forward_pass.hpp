#pragma once
// The forward pass on an NVIDIA GPU (--device cuda): the model's weights uploaded once in their
// GGUF types, the paged KV cache in device memory (F16), and every step's layers run as kernels
// on one stream (kernels/cuda): fused dequantize-GEMV for decode-sized batches, cuBLAS on F16
// tiles for bigger ones. Logits and hidden states come back to the host for the sampler.
#include <memory>

#include "engine/device/forward_pass.hpp"
#include "engine/model/model_config.hpp"
#include "engine/model/model_weights.hpp"
#include "engine/result.hpp"

namespace troupe {

// Errors, each one line: no device; a weight type, head size or tensor-parallel shard the
// kernels do not take; the device's free memory short of weights + KV cache + work space
// (naming each and what to lower).
struct CudaPassOptions {
  // Decode-sized steps (up to 8 tokens) replay CUDA graphs, one per shape, captured at first
  // use; false runs every kernel launch by launch (vLLM's --enforce-eager).
  bool graphs = true;
  // Host threads lent to per-sequence work between steps (the sampler over host logits); 0: every
  // core.
  int host_threads = 0;
};

Result<std::unique_ptr<ForwardPass>> make_cuda_forward_pass(const ModelConfig& config,
                                                            const ModelWeights& weights, KvShape kv,
                                                            const CudaPassOptions& options = {});

// Bytes of KV cache that fit when this process may use `utilization` of the device's memory
// (vLLM's --gpu-memory-utilization): that share of the total, less the weights and the pass's
// work space. Errors: no device; the share already short of the weights and work space; more
// than the device has free.
Result<int64_t> cuda_kv_cache_budget(const ModelConfig& config, const ModelWeights& weights,
                                     double utilization);

}  // namespace troupe
