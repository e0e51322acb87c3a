#pragma once
// ChatTemplate: a model's Jinja chat template, parsed once and rendered per request into the
// prompt text, byte-for-byte as HuggingFace transformers renders it with jinja2.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chat/render_budget.hpp"
#include "engine/chat/value.hpp"
#include "engine/result.hpp"

namespace troupe::chat {

struct Program;

struct ChatMessage {
  ChatMessage(std::string r, std::string c, Value calls = Value(), std::string call_id = {})
      : role(std::move(r)),
        content(std::move(c)),
        tool_calls(std::move(calls)),
        tool_call_id(std::move(call_id)) {}
  std::string role;
  std::string content;  // already flattened to text
  // An assistant's calls (a list of {"id", "type", "function": {"name", "arguments"}}), or
  // undefined: the message then has no "tool_calls" key, as templates test ('tool_calls' in m).
  Value tool_calls;
  std::string tool_call_id;  // a tool message's answer to; empty: no such key
};

struct ChatTemplateOptions {
  bool add_generation_prompt = true;
  std::string bos_token;
  std::string eos_token;
  Value tools = Value::none();  // the request's tools, as OpenAI lists them
};

class ChatTemplate {
 public:
  // Syntax errors name the line and column.
  static Result<ChatTemplate> parse(std::string_view source);

  // Renders with the variables transformers' apply_chat_template passes: messages, tools and
  // documents (None), add_generation_prompt, bos_token, eos_token.
  Result<std::string> apply(const std::vector<ChatMessage>& messages,
                            const ChatTemplateOptions& options) const;

  // General form: `context` is an object whose entries become the template's variables.
  Result<std::string> render(const Value& context) const;

  void set_limits(const RenderLimits& limits) { limits_ = limits; }

 private:
  explicit ChatTemplate(std::shared_ptr<const Program> program) : program_(std::move(program)) {}

  std::shared_ptr<const Program> program_;  // immutable: one template serves many threads
  RenderLimits limits_;
};

// The context apply() renders with, for callers that want to add variables (tools, ...).
Value make_chat_context(const std::vector<ChatMessage>& messages,
                        const ChatTemplateOptions& options);

}  // namespace troupe::chat
