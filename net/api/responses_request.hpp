#pragma once
// Decodes POST /v1/responses (OpenAI's Responses API, stateless as vLLM serves it) into the same
// engine request a chat completion makes: `input` (text, or messages, function calls and their
// outputs) and `instructions` become the chat turns, `max_output_tokens` the token limit,
// `text.format` the structured-output grammar and function `tools` the generic tool calling of
// tool_calls.hpp. Rejections name the Responses API's fields. What needs stored responses
// (`previous_response_id`, `conversation`, `background`) is refused with a 400.
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "net/api/openai_request.hpp"

namespace troupe::api {

struct ResponsesCall {
  ApiGeneration generation;  // one chat request
  // The settings a response object repeats back: instructions, max_output_tokens, temperature,
  // top_p, tools, tool_choice, parallel_tool_calls, text, metadata, user.
  nlohmann::ordered_json echoed;
};

std::optional<ApiError> decode_responses_request(std::string_view body, const ApiLimits& limits,
                                                 ResponsesCall& out);

}  // namespace troupe::api
