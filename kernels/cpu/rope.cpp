#include "kernels/cpu/rope.hpp"

#include <cmath>

namespace troupe {

void RopeTable::compute(const RopeConfig& config, const int32_t* positions, int64_t tokens) {
  pairs_ = config.rotary_dims / 2;
  cos_.resize(static_cast<size_t>(tokens * pairs_));
  sin_.resize(cos_.size());
  const float theta_scale =
      std::pow(config.freq_base, -2.0f / static_cast<float>(config.rotary_dims));
  for (int64_t t = 0; t < tokens; ++t) {
    float theta = static_cast<float>(positions[t]) * config.position_scale;
    for (int i = 0; i < pairs_; ++i) {
      float angle = theta;
      if (!config.frequency_factors.empty())
        angle /= config.frequency_factors[static_cast<size_t>(i)];
      // One sincosf call: compilers fuse cosf+sinf into it when optimising (llama.cpp's build
      // included), and its results differ from the separate calls in the last bit.
      ::sincosf(angle, &sin_[static_cast<size_t>(t * pairs_ + i)],
                &cos_[static_cast<size_t>(t * pairs_ + i)]);
      theta *= theta_scale;
    }
  }
}

void RopeTable::rotate_head(const RopeConfig& config, int64_t t, const float* x, int head_dim,
                            float* out) const {
  const float* c = cos_.data() + t * pairs_;
  const float* s = sin_.data() + t * pairs_;
  for (int i = 2 * pairs_; i < head_dim; ++i) out[i] = x[i];  // past rotary_dims: as they are
  for (int i = 0; i < pairs_; ++i) {
    const int a = config.style == RopeStyle::Normal ? 2 * i : i;
    const int b = config.style == RopeStyle::Normal ? 2 * i + 1 : i + pairs_;
    // Explicit fused multiply-adds, in the form an optimising compiler contracts the plain
    // expressions to (as in llama.cpp's build), so every build rounds the same way.
    const float x0 = x[a], x1 = x[b];
    out[a] = std::fma(x0, c[i], -(x1 * s[i]));
    out[b] = std::fma(x0, s[i], x1 * c[i]);
  }
}

void RopeTable::apply(const RopeConfig& config, int64_t t, float* x, int heads,
                      int head_dim) const {
  // In place is safe: each pair is read whole before it is written.
  for (int h = 0; h < heads; ++h, x += head_dim) rotate_head(config, t, x, head_dim, x);
}

}  // namespace troupe
