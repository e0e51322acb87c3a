#include "net/api/tool_calls.hpp"

#include <random>

#include "net/api/bounded_json.hpp"
#include "net/api/json_schema_grammar.hpp"

namespace troupe::api {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// Keeps a small model from listing calls until max_tokens (the default model, at temperature 0,
// repeats a call it has made).
constexpr size_t kMaxParallelCalls = 4;

std::string call_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string id = "call_";
  for (int i = 0; i < 24; ++i) id += kAlphabet[rng() % (sizeof kAlphabet - 1)];
  return id;
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace

void read_tools(JsonFields& fields, std::string_view body, ToolRequest& out) {
  if (fields.error || !fields.has("tools")) {
    if (!fields.error && fields.has("tool_choice")) {
      const json& choice = fields.json()["tool_choice"];
      if (!(choice.is_string() && choice == "none")) {
        fields.fail("tool_choice", "'tool_choice' needs 'tools'");
      }
    }
    return;
  }
  if (auto wide = too_wide_to_order(fields.json()["tools"], "tools"))
    return fields.fail("tools", *wide);
  const ordered_json tools = ordered_member(body, "tools");  // JsonFields bounded its depth
  if (!tools.is_array()) return fields.fail("tools", "'tools' must be an array");
  out.listed = tools;
  for (size_t i = 0; i < tools.size(); ++i) {
    const std::string param = "tools[" + std::to_string(i) + "]";
    const ordered_json& tool = tools[i];
    if (!tool.is_object() || !tool.contains("type") || tool["type"] != "function" ||
        !tool.contains("function") || !tool["function"].is_object()) {
      return fields.fail(param,
                         "'" + param + "' must be {\"type\": \"function\", \"function\": {...}}");
    }
    const ordered_json& f = tool["function"];
    ToolSpec spec;
    if (!f.contains("name") || !f["name"].is_string() ||
        !valid_name(f["name"].get<std::string>())) {
      return fields.fail(param + ".function.name",
                         "'" + param + ".function.name' must be 1-64 letters, digits, _ or -");
    }
    spec.name = f["name"].get<std::string>();
    for (const ToolSpec& other : out.tools) {
      if (other.name == spec.name) {
        return fields.fail(param + ".function.name", "two tools are named '" + spec.name + "'");
      }
    }
    if (f.contains("description") && f["description"].is_string()) {
      spec.description = f["description"].get<std::string>();
    }
    spec.parameters =
        f.contains("parameters")
            ? f["parameters"]
            : ordered_json{{"type", "object"}, {"properties", ordered_json::object()}};
    out.tools.push_back(std::move(spec));
  }
  if (fields.has("parallel_tool_calls")) fields.read_bool("parallel_tool_calls", out.parallel);
  if (!fields.has("tool_choice")) return;
  const json& choice = fields.json()["tool_choice"];
  if (choice.is_string()) {
    const std::string c = choice.get<std::string>();
    if (c == "none") {
      out.tools.clear();  // words only, as OpenAI answers
    } else if (c == "required") {
      out.choice = ToolRequest::Choice::required;
    } else if (c != "auto") {
      fields.fail("tool_choice", "'tool_choice' must be none, auto, required or a function");
    }
    return;
  }
  if (!choice.is_object() || !choice.contains("function") || !choice["function"].is_object() ||
      !choice["function"].contains("name") || !choice["function"]["name"].is_string()) {
    return fields.fail("tool_choice",
                       "'tool_choice' must be none, auto, required or "
                       "{\"type\": \"function\", \"function\": {\"name\": ...}}");
  }
  out.choice = ToolRequest::Choice::named;
  out.named = choice["function"]["name"].get<std::string>();
  bool known = false;
  for (const ToolSpec& t : out.tools) known = known || t.name == out.named;
  if (!known)
    fields.fail("tool_choice", "'tool_choice' names '" + out.named + "', not among the tools");
}

Result<std::optional<grammar::Grammar>> tool_grammar(const ToolRequest& request) {
  // The model's own syntax names the arguments "parameters" in Llama's form.
  const char* arguments = request.syntax == ToolSyntax::llama3_json ? "parameters" : "arguments";
  ordered_json calls = ordered_json::array();
  for (const ToolSpec& tool : request.tools) {
    if (request.choice == ToolRequest::Choice::named && tool.name != request.named) continue;
    // Each tool's schema checked alone first, so the error can name the tool.
    if (auto g = json_schema_grammar(tool.parameters, JsonSpacing::compact); !g) {
      return make_error("the parameters of tool '" + tool.name + "': " + g.message());
    }
    calls.push_back(
        {{"type", "object"},
         {"properties", {{"name", {{"const", tool.name}}}, {arguments, tool.parameters}}},
         {"required", {"name", arguments}},
         {"additionalProperties", false}});
  }
  const bool one = !request.parallel || request.choice == ToolRequest::Choice::named;
  if (request.syntax != ToolSyntax::generic) {
    if (request.choice == ToolRequest::Choice::automatic) {
      return std::optional<grammar::Grammar>();
    }
    std::vector<grammar::Grammar> call_grammars;
    for (const ordered_json& call : calls) {
      auto g = json_schema_grammar(call, JsonSpacing::compact);
      if (!g) return g.error();
      call_grammars.push_back(std::move(*g));
    }
    auto g = native_calls_grammar(request.syntax, call_grammars,
                                  one ? 1 : static_cast<int>(kMaxParallelCalls));
    if (!g) return g.error();
    return std::optional<grammar::Grammar>(std::move(*g));
  }
  ordered_json list = {{"type", "array"},
                       {"items", calls.size() == 1 ? calls[0] : ordered_json{{"anyOf", calls}}},
                       {"minItems", 1},
                       {"maxItems", one ? 1 : kMaxParallelCalls}};
  ordered_json answer = {{"type", "object"},
                         {"properties", {{"tool_calls", list}}},
                         {"required", {"tool_calls"}},
                         {"additionalProperties", false}};
  if (request.choice == ToolRequest::Choice::automatic) {
    ordered_json words = {{"type", "object"},
                          {"properties", {{"response", {{"type", "string"}}}}},
                          {"required", {"response"}},
                          {"additionalProperties", false}};
    answer = {{"anyOf", {answer, words}}};
  }
  auto g = json_schema_grammar(answer, JsonSpacing::compact);
  if (!g) return g.error();
  return std::optional<grammar::Grammar>(std::move(*g));
}

std::string tool_instructions(const ToolRequest& request) {
  ordered_json list = ordered_json::array();
  for (const ToolSpec& t : request.tools) {
    list.push_back(
        {{"name", t.name}, {"description", t.description}, {"parameters", t.parameters}});
  }
  std::string text = "You can call these tools:\n" + list.dump(2) + "\n\n";
  text +=
      "Answer with one JSON object. To call tools: "
      "{\"tool_calls\": [{\"name\": \"<tool name>\", \"arguments\": {<its arguments>}}]}";
  if (request.choice == ToolRequest::Choice::automatic) {
    text += ". To answer in words instead: {\"response\": \"<your answer>\"}";
  }
  return text + ".";
}

std::string tool_calls_text(const json& tool_calls) {
  json calls = json::array();
  for (const json& call : tool_calls) {
    if (!call.is_object() || !call.contains("function") || !call["function"].is_object()) continue;
    const json& f = call["function"];
    json arguments = json::object();
    if (f.contains("arguments") && f["arguments"].is_string()) {
      arguments = parse_bounded_json_or_discarded(f["arguments"].get<std::string>());
      if (arguments.is_discarded()) arguments = f["arguments"];
    }
    const json name = f.contains("name") && f["name"].is_string() ? f["name"] : json("");
    calls.push_back({{"name", name}, {"arguments", arguments}});
  }
  return json{{"tool_calls", calls}}.dump();
}

ToolAnswer parse_tool_answer(std::string_view text, ToolSyntax syntax) {
  ToolAnswer out;
  if (syntax != ToolSyntax::generic) {
    NativeAnswer native = parse_native_answer(syntax, text);
    out.content = std::move(native.content);
    for (const NativeCall& call : native.calls) {
      out.calls.push_back({call_id(), call.name, call.arguments.dump()});
    }
    return out;
  }
  const json answer = parse_bounded_json_or_discarded(text);
  if (answer.is_object() && answer.contains("response") && answer["response"].is_string()) {
    out.content = answer["response"].get<std::string>();
    return out;
  }
  if (answer.is_object() && answer.contains("tool_calls") && answer["tool_calls"].is_array()) {
    for (const json& call : answer["tool_calls"]) {
      if (!call.is_object() || !call.contains("name") || !call["name"].is_string()) continue;
      out.calls.push_back({call_id(), call["name"].get<std::string>(),
                           call.contains("arguments") ? call["arguments"].dump() : "{}"});
    }
    if (!out.calls.empty()) return out;
  }
  out.content = std::string(text);
  return out;
}

}  // namespace troupe::api
