#pragma once
// Rotary position embeddings on the CPU: per-batch cos/sin tables, applied in place to Q and K.
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/common/rope_config.hpp"

namespace troupe {

// Per-token cos/sin tables for a batch, shared by every layer and head.
class RopeTable {
 public:
  void compute(const RopeConfig& config, const int32_t* positions, int64_t tokens);
  // Rotates `heads` consecutive heads of `head_dim` values of token `t` in place.
  void apply(const RopeConfig& config, int64_t t, float* x, int heads, int head_dim) const;
  // One head of token `t`: out = x rotated (out may be x).
  void rotate_head(const RopeConfig& config, int64_t t, const float* x, int head_dim,
                   float* out) const;
  // The tables themselves, [tokens][rotary_dims / 2] each (a GPU pass uploads them).
  std::span<const float> cosines() const { return cos_; }
  std::span<const float> sines() const { return sin_; }

 private:
  int pairs_ = 0;
  std::vector<float> cos_, sin_;
};

}  // namespace troupe
