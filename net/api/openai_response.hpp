#pragma once
// OpenAI's response bodies, as pure functions: chat.completion and text_completion objects,
// their streamed chunks, and Server-Sent Events framing.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/serve/generate_request.hpp"
#include "engine/tokenizer/tokenizer.hpp"

namespace troupe::api {

// What every body of one response shares.
struct ResponseShape {
  bool chat = true;
  std::string id;  // "chatcmpl-…" or "cmpl-…"
  std::string model;
  int64_t created = 0;         // unix seconds
  bool include_usage = false;  // streamed chunks then carry "usage": null
  bool logprobs = false;
  int top_logprobs = 0;
  const Tokenizer* tokenizer = nullptr;  // spells tokens in logprobs
  bool tools = false;  // chat answers are tool_calls.hpp's JSON, read back into tool_calls
};

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
};

// One choice, accumulated for a non-streamed response.
struct ChoiceResult {
  std::string text;
  std::string finish_reason;
  std::vector<SampledToken> tokens;
};

std::string full_response(const ResponseShape& shape, const std::vector<ChoiceResult>& choices,
                          Usage usage);
// Chat's first chunk of a choice: the assistant role with empty content.
std::string role_chunk(const ResponseShape& shape, int index);
std::string delta_chunk(const ResponseShape& shape, int index, const GenerationChunk& chunk);
std::string usage_chunk(const ResponseShape& shape, Usage usage);
// With shape.tools, a choice is streamed once whole, when it ends: its calls (one chunk each,
// arguments complete) or its content, then the finish.
std::vector<std::string> tool_answer_chunks(const ResponseShape& shape, int index,
                                            const std::string& text,
                                            const std::string& finish_reason);

std::string sse_event(std::string_view data);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

}  // namespace troupe::api
