#include "net/api/tool_syntax.hpp"

#include "engine/grammar/grammar_builder.hpp"
#include "net/api/bounded_json.hpp"

namespace troupe::api {
namespace {

using nlohmann::json;

constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
constexpr std::string_view kPythonTag = "<|python_tag|>";

std::string trimmed(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const size_t last = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(first, last - first + 1));
}

// {"name": ..., "arguments" or "parameters": {...}} as a call; false for anything else.
bool read_call(const json& value, std::vector<NativeCall>& out) {
  if (!value.is_object() || !value.contains("name") || !value["name"].is_string()) return false;
  json arguments = json::object();
  for (const char* key : {"arguments", "parameters"}) {
    if (value.contains(key) && value[key].is_object()) arguments = value[key];
  }
  out.push_back({value["name"].get<std::string>(), std::move(arguments)});
  return true;
}

}  // namespace

ToolSyntax tool_syntax_of(std::string_view chat_template) {
  if (chat_template.find(kHermesOpen) != std::string_view::npos) return ToolSyntax::hermes;
  if (chat_template.find(kPythonTag) != std::string_view::npos ||
      (chat_template.find("Environment: ipython") != std::string_view::npos &&
       chat_template.find("\"parameters\"") != std::string_view::npos)) {
    return ToolSyntax::llama3_json;
  }
  return ToolSyntax::generic;
}

const char* tool_syntax_name(ToolSyntax syntax) {
  switch (syntax) {
    case ToolSyntax::hermes:
      return "hermes (<tool_call> blocks)";
    case ToolSyntax::llama3_json:
      return "llama3 JSON";
    case ToolSyntax::generic:
      break;
  }
  return "generic JSON";
}

Result<grammar::Grammar> native_calls_grammar(ToolSyntax syntax,
                                              const std::vector<grammar::Grammar>& calls,
                                              int max_calls) {
  if (syntax == ToolSyntax::generic || calls.empty()) {
    return make_error("native_calls_grammar: no native syntax or no calls");
  }
  using grammar::Element;
  using grammar::GrammarBuilder;
  GrammarBuilder b;
  std::vector<grammar::Sequence> call_alternatives;
  for (const grammar::Grammar& one : calls) {
    const Element arguments = Element::ref(b.import(one, "call"));
    if (syntax == ToolSyntax::hermes) {
      grammar::Sequence s = GrammarBuilder::literal(std::string(kHermesOpen) + "\n");
      s.push_back(arguments);
      const grammar::Sequence close = GrammarBuilder::literal("\n" + std::string(kHermesClose));
      s.insert(s.end(), close.begin(), close.end());
      call_alternatives.push_back(std::move(s));
    } else {
      call_alternatives.push_back({arguments});
    }
  }
  const int32_t call = b.rule("native-call");
  b.define(call, std::move(call_alternatives));
  // 1..max_calls calls, one per line; Llama's syntax holds one.
  const int most = syntax == ToolSyntax::llama3_json ? 1 : std::max(1, max_calls);
  const Element more = b.as_element({Element::byte('\n'), Element::ref(call)}, "native-calls");
  grammar::Sequence root = {Element::ref(call)};
  const grammar::Sequence rest = b.repeat(more, 0, most - 1, "native-calls");
  root.insert(root.end(), rest.begin(), rest.end());
  b.define(b.rule("native-calls"), {std::move(root)});
  return b.finish("native-calls");
}

NativeAnswer parse_native_answer(ToolSyntax syntax, std::string_view text) {
  NativeAnswer out;
  if (syntax == ToolSyntax::llama3_json) {
    std::string_view body = text;
    if (const size_t tag = body.find(kPythonTag); tag != std::string_view::npos) {
      body = body.substr(tag + kPythonTag.size());
    }
    if (!read_call(parse_bounded_json_or_discarded(trimmed(body)), out.calls)) {
      out.content = std::string(text);
    }
    return out;
  }
  std::string words;
  size_t at = 0;
  while (true) {
    const size_t open = text.find(kHermesOpen, at);
    const size_t close =
        open == std::string_view::npos ? open : text.find(kHermesClose, open + kHermesOpen.size());
    if (close == std::string_view::npos) break;
    const std::string_view inside =
        text.substr(open + kHermesOpen.size(), close - open - kHermesOpen.size());
    if (!read_call(parse_bounded_json_or_discarded(trimmed(inside)), out.calls)) break;
    words += text.substr(at, open - at);
    at = close + kHermesClose.size();
  }
  words += text.substr(at);
  out.content = out.calls.empty() ? std::string(text) : trimmed(words);
  return out;
}

}  // namespace troupe::api
