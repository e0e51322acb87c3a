#pragma once
// Turns one row of logits into the next token: logit bias, penalties, then greedy or
// temperature with top-k, top-p and min-p, drawn from the request's own seeded generator (so a
// request samples the same tokens alone or batched with others).
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "engine/grammar/token_mask.hpp"
#include "engine/sample/sampling_params.hpp"

namespace troupe {

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;
  bool operator==(const TokenLogprob&) const = default;
};

struct SampledToken {
  int32_t token = 0;
  float logprob = 0;              // of the raw distribution; only when params.logprobs > 0
  std::vector<TokenLogprob> top;  // params.logprobs most likely tokens, most likely first
  bool operator==(const SampledToken&) const = default;
};

class Sampler {
 public:
  explicit Sampler(SamplingParams params);

  const SamplingParams& params() const { return params_; }
  // Greedy, or a draw from the whole tempered distribution (no top-k, top-p or min-p): then a
  // token drawn without a mask and kept only if the mask allows it is distributed as a draw
  // with the mask (rejection sampling), and a grammar's mask need not be made for every step.
  bool draws_from_whole_distribution() const;

  // `prompt` and `output` are the sequence's tokens so far, for the penalties. With `allowed`,
  // only its tokens can be drawn (a grammar's mask); it must allow one.
  SampledToken sample(std::span<const float> logits, std::span<const int32_t> prompt,
                      std::span<const int32_t> output, const grammar::TokenMask* allowed = nullptr);

 private:
  bool changes_logits() const;                       // any logit bias or penalty
  void mask_out(const grammar::TokenMask& allowed);  // -inf for every token it does not allow
  void apply_bias_and_penalties(std::span<const int32_t> prompt, std::span<const int32_t> output);
  int32_t draw();

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<float> logits_;                          // processed copy of the row
  std::vector<std::pair<float, int32_t>> candidates_;  // (probability, token)
  std::vector<int32_t> counts_;                        // occurrences of each token in the output
};

// log-softmax of `logits` at `token`, and the `n` most likely tokens.
SampledToken raw_logprobs(std::span<const float> logits, int32_t token, int n);

}  // namespace troupe
