#pragma once
// The answers of POST /v1/chat/completions and /v1/completions: chat.completion and
// text_completion objects, their streamed chunks (chat.completion.chunk), and the SSE framing
// every OpenAI stream shares.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "engine/tokenizer/tokenizer.hpp"
#include "net/api/answer_format.hpp"
#include "net/api/tool_syntax.hpp"

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
  bool tools = false;  // chat answers hold tool calls (tool_calls.hpp), read back into tool_calls
  ToolSyntax tool_syntax = ToolSyntax::generic;  // written in the model's own syntax
};

class CompletionFormat final : public AnswerFormat {
 public:
  explicit CompletionFormat(ResponseShape shape) : shape_(std::move(shape)) {}

  // With tools, a choice is streamed once whole, when it ends: its calls (one chunk each,
  // arguments complete) or its content, then the finish.
  bool streams_deltas() const override { return !shape_.tools; }
  std::string prompt_param() const override { return shape_.chat ? "messages" : "prompt"; }
  SseEvents opening(int choices) override;
  SseEvents delta(int index, const GenerationChunk& chunk) override;
  SseEvents whole_choice(int index, const ChoiceResult& choice) override;
  SseEvents closing(const std::vector<ChoiceResult>& choices, const std::optional<ApiError>& error,
                    Usage usage) override;
  std::string body(const std::vector<ChoiceResult>& choices, Usage usage) override;

 private:
  ResponseShape shape_;
};

// "data: <data>\n\n"; and the end of a chat or completions stream.
std::string sse_event(std::string_view data);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

// Token text may end inside a UTF-8 character: dumped with such bytes replaced instead of
// throwing (logprobs' `bytes` carry them exactly, as OpenAI does).
std::string dump_lossy(const nlohmann::json& value);
std::string dump_lossy(const nlohmann::ordered_json& value);

}  // namespace troupe::api
