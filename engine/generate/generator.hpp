#pragma once
// Runs one request from prompt tokens to finish: prefill, then decode token by token, sampling,
// detokenizing incrementally and applying stop conditions. The single-sequence path used by the
// CLI; the batching engine drives the same Transformer with many sequences at once.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/transformer.hpp"
#include "engine/result.hpp"
#include "engine/sample/sampler.hpp"
#include "engine/tokenizer/tokenizer.hpp"

namespace troupe {

struct GenerationOutput {
  std::string text;
  std::vector<int32_t> token_ids;
  std::vector<SampledToken> logprobs;  // one per token when params.logprobs > 0 was asked
  std::string finish_reason;           // "stop" or "length"
  int prompt_tokens = 0;
  double prompt_seconds = 0;  // prefill up to the first sampled token
  double decode_seconds = 0;  // the remaining tokens
};

// Receives text as soon as it is complete UTF-8 and clear of any stop string.
using TextCallback = std::function<void(std::string_view)>;

class Generator {
 public:
  Generator(Transformer& model, const Tokenizer& tokenizer, int block_size = 16);

  // Errors: empty prompt, prompt as long as the context or longer, invalid sampling params.
  Result<GenerationOutput> generate(std::span<const int32_t> prompt, const SamplingParams& params,
                                    const TextCallback& on_text = {});

 private:
  Transformer& model_;
  const Tokenizer& tokenizer_;
  int block_size_;
};

}  // namespace troupe
