#pragma once
// Function calling (OpenAI's `tools`, `tool_choice`, `parallel_tool_calls`) in the generic form
// llama.cpp uses for models whose chat template does not know tools: the tool definitions go
// into the system prompt, and the answer is constrained (by a grammar from the tools' JSON
// Schemas) to one JSON object, either {"tool_calls": [{"name": ..., "arguments": {...}}, ...]}
// or, when the model may answer in words (tool_choice auto), {"response": "..."}. The answer is
// then read back into OpenAI's message shape: `tool_calls` with ids, or `content`.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/grammar/grammar.hpp"
#include "engine/result.hpp"
#include "net/api/json_fields.hpp"
#include "net/api/tool_syntax.hpp"

namespace troupe::api {

struct ToolSpec {
  std::string name;
  std::string description;
  nlohmann::ordered_json parameters;  // a JSON Schema of the arguments object
};

struct ToolRequest {
  std::vector<ToolSpec> tools;
  nlohmann::ordered_json listed;  // `tools` as the request gave them, for a chat template
  ToolSyntax syntax = ToolSyntax::generic;
  enum class Choice { automatic, required, named } choice = Choice::automatic;
  std::string named;     // Choice::named: the function that must be called
  bool parallel = true;  // more than one call in an answer
  bool active() const { return !tools.empty(); }
};

// Reads tools, tool_choice and parallel_tool_calls (the schemas from `body`, in key order).
// tool_choice "none", or no tools, leaves `out` inactive: the model answers in words.
void read_tools(JsonFields& fields, std::string_view body, ToolRequest& out);

// The grammar every answer must match; an error names the tool whose schema cannot be used.
// In a native syntax, tool_choice auto leaves the answer free (nullopt): words or calls.
Result<std::optional<grammar::Grammar>> tool_grammar(const ToolRequest& request);

// The system prompt text that tells the model its tools and the answer's form.
std::string tool_instructions(const ToolRequest& request);

// An assistant message's earlier tool calls, as the model would have written them.
std::string tool_calls_text(const nlohmann::json& tool_calls);

struct ToolCall {
  std::string id;  // "call_" and 24 random characters
  std::string name;
  std::string arguments;  // a JSON text, as OpenAI sends it
};
struct ToolAnswer {
  std::string content;
  std::vector<ToolCall> calls;
};

// The generated text read back: its calls, or its response as content; text that is not the
// expected JSON (a generation cut by max_tokens) comes back whole as content.
ToolAnswer parse_tool_answer(std::string_view text, ToolSyntax syntax = ToolSyntax::generic);

}  // namespace troupe::api
