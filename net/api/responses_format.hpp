#pragma once
// The answers of POST /v1/responses: a response object (status, output items, usage), or its
// stream of typed events (response.created … response.completed), each with its sequence
// number. The output is one assistant message with one output_text part, or, where tools were
// given and the model called them, one function_call item per call.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "net/api/answer_format.hpp"
#include "net/api/tool_syntax.hpp"

namespace troupe::api {

struct ResponsesShape {
  std::string id;  // "resp_…"
  std::string model;
  int64_t created = 0;  // unix seconds
  bool tools = false;   // the answer may hold tool calls (tool_calls.hpp)
  ToolSyntax tool_syntax = ToolSyntax::generic;
  nlohmann::ordered_json echoed;  // the request's settings (ResponsesCall::echoed)
};

class ResponsesFormat final : public AnswerFormat {
 public:
  explicit ResponsesFormat(ResponsesShape shape) : shape_(std::move(shape)) {}

  bool streams_deltas() const override { return !shape_.tools; }
  std::string prompt_param() const override { return "input"; }
  SseEvents opening(int choices) override;
  SseEvents delta(int index, const GenerationChunk& chunk) override;
  SseEvents whole_choice(int index, const ChoiceResult& choice) override;
  SseEvents closing(const std::vector<ChoiceResult>& choices, const std::optional<ApiError>& error,
                    Usage usage) override;
  std::string body(const std::vector<ChoiceResult>& choices, Usage usage) override;

 private:
  // The response object; `choice` null while it is in progress.
  nlohmann::ordered_json response(const ChoiceResult* choice, Usage usage,
                                  const std::optional<ApiError>& error = std::nullopt) const;
  std::string event(const std::string& type, nlohmann::ordered_json fields);
  // The events that add output item `index` and write `item` into it whole.
  void whole_item(int index, const nlohmann::ordered_json& item, SseEvents& out);

  ResponsesShape shape_;
  int sequence_ = 0;
  int items_ = 0;  // output items added so far
};

}  // namespace troupe::api
