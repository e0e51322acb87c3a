#pragma once
// One request through the batching engine from prompt to finish, as vLLM's offline LLM.generate
// runs it: the engine's validation, scheduling and sampling, and RequestOutput's incremental
// detokenization and stop strings — the same code a served request goes through. `troupe
// generate` and `troupe chat` use it.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/result.hpp"
#include "engine/serve/engine.hpp"
#include "engine/tokenizer/tokenizer.hpp"

namespace troupe {

struct SingleRequestOutput {
  std::string text;
  std::vector<int32_t> token_ids;
  std::vector<SampledToken> logprobs;  // one per token when params.logprobs > 0 was asked
  std::string finish_reason;           // "stop" or "length"
  int prompt_tokens = 0;
  double prompt_seconds = 0;  // from arrival to the first sampled token
  double decode_seconds = 0;  // the remaining tokens
};

// Receives text as soon as it is complete UTF-8 and clear of any stop string.
using TextCallback = std::function<void(std::string_view)>;

// An engine config for one sequence at a time, as long as the model's context: KV blocks for
// exactly that (not faulted in up front: untouched ones cost no memory) and 512-token prefill
// chunks. Prefix caching
// stays on, so a chat's next turn reuses the conversation's blocks.
EngineConfig single_request_config(const ModelConfig& model);

// Runs `prompt` on an idle `engine` until it finishes, streaming its text to `on_text`.
// Errors: the engine's (an empty or too long prompt, a token outside the vocabulary, bad
// sampling parameters), or params.n other than 1.
Result<SingleRequestOutput> run_single_request(Engine& engine, const Tokenizer& tokenizer,
                                               std::vector<int32_t> prompt,
                                               const SamplingParams& params,
                                               const TextCallback& on_text = {});

}  // namespace troupe
