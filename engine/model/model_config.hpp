#pragma once
// The shape of a transformer, read from GGUF metadata.
#include <cstdint>
#include <string>

#include "engine/gguf/gguf_file.hpp"
#include "engine/result.hpp"
#include "kernels/common/rope_config.hpp"

namespace troupe {

enum class Architecture { Llama, Qwen2 };

struct ModelConfig {
  Architecture architecture = Architecture::Llama;
  std::string architecture_name;
  std::string name;  // general.name, for display
  int layers = 0;
  int embedding_dim = 0;
  int feed_forward_dim = 0;
  int heads = 0;
  int kv_heads = 0;
  int head_dim = 0;
  int vocab_size = 0;
  int context_length = 0;
  float rms_eps = 1e-5f;
  bool attention_bias = false;  // Qwen2's Q/K/V projections have biases
  RopeConfig rope;              // frequency_factors filled by the weight loader when present

  int q_dim() const { return heads * head_dim; }
  int kv_dim() const { return kv_heads * head_dim; }
};

// Reads and validates the config; unknown architectures fail listing the supported ones.
Result<ModelConfig> read_model_config(const gguf::File& file);

}  // namespace troupe
