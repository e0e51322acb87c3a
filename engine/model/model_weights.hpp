#pragma once
// Views of a model's tensors inside the mapped GGUF file. Nothing is copied or dequantized:
// matrices stay in their stored type and the file mapping owns the bytes.
#include <memory>
#include <vector>

#include "engine/gguf/gguf_file.hpp"
#include "engine/model/model_config.hpp"
#include "engine/result.hpp"
#include "kernels/cpu/matmul.hpp"

namespace troupe {

struct LayerWeights {
  const float* attention_norm = nullptr;
  WeightMatrix wq, wk, wv, wo;
  const float* bq = nullptr;  // Qwen2 only
  const float* bk = nullptr;
  const float* bv = nullptr;
  const float* ffn_norm = nullptr;
  WeightMatrix w_gate, w_up, w_down;
};

struct ModelWeights {
  std::shared_ptr<const gguf::File> file;  // keeps the mapping alive
  WeightMatrix token_embedding;            // [vocab][embedding_dim]
  std::vector<LayerWeights> layers;
  const float* output_norm = nullptr;
  WeightMatrix output;  // the token embedding itself when tied
};

// Finds and shape-checks every tensor the config needs; fills config.rope.frequency_factors from
// `rope_freqs.weight` when the file has it.
Result<ModelWeights> load_model_weights(std::shared_ptr<const gguf::File> file,
                                        ModelConfig& config);

}  // namespace troupe
