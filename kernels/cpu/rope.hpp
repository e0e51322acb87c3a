#pragma once
// Rotary position embeddings. `Normal` rotates adjacent pairs (x[2i], x[2i+1]) as llama.cpp does
// for Llama-family GGUFs, whose Q/K rows were permuted at conversion; `NeoX` rotates
// (x[i], x[i + dims/2]) as Qwen2 and GPT-NeoX do.
#include <cstdint>
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

// Per-token cos/sin tables for a batch, shared by every layer and head.
class RopeTable {
 public:
  void compute(const RopeConfig& config, const int32_t* positions, int64_t tokens);
  // Rotates `heads` consecutive heads of `head_dim` values of token `t` in place.
  void apply(const RopeConfig& config, int64_t t, float* x, int heads, int head_dim) const;
  // One head of token `t`: out = x rotated (out may be x).
  void rotate_head(const RopeConfig& config, int64_t t, const float* x, int head_dim,
                   float* out) const;

 private:
  int pairs_ = 0;
  std::vector<float> cos_, sin_;
};

}  // namespace troupe
