#pragma once
// How a model writes tool calls when its chat template knows tools, so that troupe renders the
// tools through the template and reads the calls back from the model's own syntax (vLLM's tool
// parsers, llama.cpp's chat formats):
//   hermes       Qwen2.5, Hermes 2 Pro: <tool_call>\n{"name": ..., "arguments":
//   {...}}\n</tool_call>,
//                one block per call, words outside them are content;
//   llama3_json  Llama 3.1 / 3.2: the whole answer is {"name": ..., "parameters": {...}}, one
//                call, optionally after <|python_tag|>.
// Any other template gets the generic form of tool_calls.hpp.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "engine/grammar/grammar.hpp"
#include "engine/result.hpp"

namespace troupe::api {

enum class ToolSyntax { generic, hermes, llama3_json };

// Recognized from the template's text: the markers its tool section writes.
ToolSyntax tool_syntax_of(std::string_view chat_template);
const char* tool_syntax_name(ToolSyntax syntax);

// The grammar of 1..max_calls calls in `syntax` (not generic), each one of `calls` (objects
// {"name": const, "arguments": schema} as JSON Schema, compiled to JSON text).
Result<grammar::Grammar> native_calls_grammar(ToolSyntax syntax,
                                              const std::vector<grammar::Grammar>& calls,
                                              int max_calls);

struct NativeCall {
  std::string name;
  nlohmann::json arguments;  // an object
};
// The calls written in `syntax`, and the words outside them (trimmed); no calls where the text
// holds none that parse.
struct NativeAnswer {
  std::string content;
  std::vector<NativeCall> calls;
};
NativeAnswer parse_native_answer(ToolSyntax syntax, std::string_view text);

}  // namespace troupe::api
