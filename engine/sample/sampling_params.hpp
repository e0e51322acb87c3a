#pragma once
// What a request asks of the sampler and of the generation loop, with OpenAI/vLLM semantics.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/result.hpp"

namespace troupe {

// An embedding request's pooling (POST /v1/embeddings, llama.cpp's --pooling): nothing is
// sampled; the prompt's final hidden states (after the output norm) are averaged, or the last
// one taken, and scaled to unit length.
enum class Pooling : int32_t { none, mean, last };

// What one request may ask to stop at. Every stop string is searched for in each sample's new
// text at every token, and the lists are copied per prompt and per sample, so they are bounded
// (OpenAI takes up to 4 strings, TGI 4 by default; vLLM sets no bound).
constexpr size_t kMostStopStrings = 32;
constexpr size_t kMostStopStringBytes = 1024;
constexpr size_t kMostStopTokenIds = 1024;

struct SamplingParams {
  float temperature = 1.0f;         // 0 means greedy
  float top_p = 1.0f;               // in (0, 1]
  int top_k = 0;                    // 0 or -1: off
  float min_p = 0.0f;               // in [0, 1]
  float repetition_penalty = 1.0f;  // > 0; applies to prompt and output tokens (vLLM)
  float presence_penalty = 0.0f;    // in [-2, 2]; output tokens only
  float frequency_penalty = 0.0f;   // in [-2, 2]; output tokens only
  std::vector<std::pair<int32_t, float>> logit_bias;
  std::optional<uint64_t> seed;

  int n = 1;             // independent samples of the prompt, sharing its KV blocks
  int max_tokens = 256;  // >= 1
  std::vector<std::string> stop;
  std::vector<int32_t> stop_token_ids;
  bool ignore_eos = false;
  int logprobs = 0;  // top-n log-probabilities to report per token, 0 for none
  // Constrained decoding: empty, or the grammar every output must match, as words
  // (engine/grammar/grammar_words.hpp); the end-of-generation tokens only where it is complete.
  std::vector<int32_t> grammar;
  Pooling pooling = Pooling::none;  // not none: an embedding, not a generation

  bool operator==(const SamplingParams&) const = default;
};

// Checks ranges; the error names the parameter and the accepted range.
Status validate(const SamplingParams& params, int vocab_size);

// What is wrong with a stop list (more than kMostStopStrings, one empty or over
// kMostStopStringBytes), or nothing: validate()'s check, which the API's decoders make too so
// that their error names the field.
std::optional<std::string> stop_list_problem(const std::vector<std::string>& stop);

}  // namespace troupe
