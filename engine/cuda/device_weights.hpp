#pragma once
// A model's weights copied to device memory once, in their stored types: one allocation, each
// tensor at a 256-byte boundary; a matrix the token embedding shares with the output (tied) is
// uploaded once.
#include <cstdint>
#include <vector>

#include "engine/model/model_config.hpp"
#include "engine/model/model_weights.hpp"
#include "kernels/cuda/device_buffer.hpp"
#include "kernels/cuda/weight_products.hpp"

namespace troupe {

struct DeviceLayer {
  const float* attention_norm = nullptr;
  cuda::DeviceMatrix wq, wk, wv, wo;
  const float* bq = nullptr;
  const float* bk = nullptr;
  const float* bv = nullptr;
  const float* ffn_norm = nullptr;
  cuda::DeviceMatrix w_gate, w_up, w_down;
};

struct DeviceWeights {
  cuda::DeviceBuffer<uint8_t> memory;
  cuda::DeviceMatrix token_embedding, output;
  std::vector<DeviceLayer> layers;
  const float* output_norm = nullptr;
};

// Bytes the upload will take.
int64_t device_weight_bytes(const ModelConfig& config, const ModelWeights& weights);

// Copies every tensor (synchronously). Throws cuda::CudaError.
DeviceWeights upload_weights(const ModelConfig& config, const ModelWeights& weights);

}  // namespace troupe
