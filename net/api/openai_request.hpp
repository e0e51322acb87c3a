#pragma once
// Decodes and validates the bodies of POST /v1/chat/completions and /v1/completions into engine
// requests. Every rejection names the parameter, as OpenAI's API does.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/serve/generate_request.hpp"
#include "net/api/api_error.hpp"
#include "net/api/tool_calls.hpp"
#include "net/api/tool_syntax.hpp"

namespace troupe::api {

struct ApiLimits {
  int max_model_len = 2048;  // the default max_tokens: generate up to the context
  int max_n = 16;            // samples per prompt
  int max_prompts = 64;      // prompts in one /v1/completions request
  int vocab_size = 0;        // token ids (prompts, logit_bias) must be below; 0: unchecked
  int embedding_dim = 0;     // the width of /v1/embeddings' vectors; 0: unchecked
  ToolSyntax tool_syntax = ToolSyntax::generic;  // how the model's chat template writes calls
};

// One API call: one engine request per prompt (completions may batch several prompts; chat has
// one), all with the same sampling parameters.
struct ApiGeneration {
  bool chat = true;
  std::string model;  // empty when the client did not name one
  std::vector<GenerateRequest> requests;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool logprobs = false;       // report each token's log-probability
  int top_logprobs = 0;        // and this many alternatives
  std::string user;
  ToolRequest tools;  // chat: function calling, active when tools were given and not refused
  // Fields of the body that troupe does not know: ignored, as vLLM does, and logged.
  std::vector<std::string> ignored_fields;
};

// On success fills `out` (request ids are left empty for the caller to assign).
std::optional<ApiError> decode_chat_request(std::string_view body, const ApiLimits& limits,
                                            ApiGeneration& out);
std::optional<ApiError> decode_completion_request(std::string_view body, const ApiLimits& limits,
                                                  ApiGeneration& out);

}  // namespace troupe::api
