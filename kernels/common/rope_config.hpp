#pragma once
// How a model's rotary position embeddings are set, as read from GGUF metadata; every device's
// RoPE kernel takes this. `Normal` rotates adjacent pairs (x[2i], x[2i+1]) as llama.cpp does for
// Llama-family GGUFs, whose Q/K rows were permuted at conversion; `NeoX` rotates
// (x[i], x[i + dims/2]) as Qwen2 and GPT-NeoX do.
#include <vector>

namespace troupe {

enum class RopeStyle { Normal, NeoX };

struct RopeConfig {
  RopeStyle style = RopeStyle::Normal;
  int rotary_dims = 0;  // leading dimensions of each head that rotate
  float freq_base = 10000.0f;
  float position_scale = 1.0f;           // linear scaling: positions multiplied by this
  std::vector<float> frequency_factors;  // Llama-3.1 style: one divisor per pair, or empty
};

}  // namespace troupe
