// The tool-call syntaxes of chat templates that know tools: recognized from the published
// templates (tests/fixtures/chat/templates), their grammars accept the model's own form of a
// call and nothing else, and answers read back into calls and words.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "engine/grammar/compiled_grammar.hpp"
#include "engine/grammar/grammar_matcher.hpp"
#include "net/api/tool_calls.hpp"
#include "net/api/tool_syntax.hpp"
#include "tests/support/text_file.hpp"

using namespace troupe;
using namespace troupe::api;
using json = nlohmann::ordered_json;

namespace {

std::string template_text(const std::string& name) {
  return test::read_text_file(std::string(TROUPE_SOURCE_DIR) + "/tests/fixtures/chat/templates/" +
                              name + ".jinja");
}

ToolRequest weather_request(ToolSyntax syntax, ToolRequest::Choice choice, bool parallel) {
  ToolRequest r;
  r.syntax = syntax;
  r.choice = choice;
  r.parallel = parallel;
  r.tools.push_back({"get_weather", "", json::parse(R"({"type": "object",
      "properties": {"city": {"type": "string"}}, "required": ["city"]})")});
  return r;
}

bool accepts(const grammar::Grammar& g, const std::string& text) {
  auto c = grammar::CompiledGrammar::compile(g);
  REQUIRE(c.ok());
  grammar::GrammarMatcher m(*c);
  return m.accept(text) && m.complete();
}

}  // namespace

TEST_CASE("tool syntax: recognized from the published chat templates") {
  CHECK(tool_syntax_of(template_text("qwen25_instruct")) == ToolSyntax::hermes);
  CHECK(tool_syntax_of(template_text("hermes2_pro_tool_use")) == ToolSyntax::hermes);
  CHECK(tool_syntax_of(template_text("llama31_instruct")) == ToolSyntax::llama3_json);
  CHECK(tool_syntax_of(template_text("llama32_instruct")) == ToolSyntax::llama3_json);
  for (const char* name : {"smollm2", "qwen2_instruct", "llama3_instruct", "gemma2_it",
                           "mistral_instruct_v03", "phi35_mini_instruct"}) {
    INFO(name);
    CHECK(tool_syntax_of(template_text(name)) == ToolSyntax::generic);
  }
}

TEST_CASE("tool syntax: hermes grammar takes <tool_call> blocks, one per line, up to four") {
  auto g = tool_grammar(weather_request(ToolSyntax::hermes, ToolRequest::Choice::required, true));
  REQUIRE(g.ok());
  REQUIRE(g->has_value());
  const std::string call =
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
      "\"Paris\"}}\n</tool_call>";
  CHECK(accepts(**g, call));
  CHECK(accepts(**g, call + "\n" + call));
  CHECK_FALSE(accepts(**g, call + "\n" + call + "\n" + call + "\n" + call + "\n" + call));
  CHECK_FALSE(accepts(**g, "Sure! " + call));
  CHECK_FALSE(
      accepts(**g, "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>"));
  CHECK_FALSE(
      accepts(**g, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>"));
  auto one =
      tool_grammar(weather_request(ToolSyntax::hermes, ToolRequest::Choice::required, false));
  REQUIRE(one.ok());
  CHECK_FALSE(accepts(**one, call + "\n" + call));
  // tool_choice auto leaves the model free: words or calls, read back afterwards.
  auto free =
      tool_grammar(weather_request(ToolSyntax::hermes, ToolRequest::Choice::automatic, true));
  REQUIRE(free.ok());
  CHECK_FALSE(free->has_value());
}

TEST_CASE("tool syntax: llama3 grammar takes one {name, parameters} object") {
  auto g =
      tool_grammar(weather_request(ToolSyntax::llama3_json, ToolRequest::Choice::required, true));
  REQUIRE(g.ok());
  const std::string call = R"({"name": "get_weather", "parameters": {"city": "Rome"}})";
  CHECK(accepts(**g, call));
  CHECK_FALSE(accepts(**g, call + "\n" + call));
  CHECK_FALSE(accepts(**g, R"({"name": "get_weather", "arguments": {"city": "Rome"}})"));
}

TEST_CASE("tool syntax: answers read back into calls and the words around them") {
  auto a = parse_tool_answer(
      "Let me check.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": 1}}\n</tool_call>\n"
      "<tool_call>{\"arguments\": {}, \"name\": \"g\"}</tool_call>",
      ToolSyntax::hermes);
  REQUIRE(a.calls.size() == 2);
  CHECK(a.calls[0].name == "f");
  CHECK(json::parse(a.calls[0].arguments) == json{{"x", 1}});
  CHECK(a.calls[1].name == "g");
  CHECK(a.content == "Let me check.");
  // Unclosed or unreadable blocks are words, as the model wrote them.
  const std::string broken = "<tool_call>\n{\"name\": \"f\", \"argu";
  CHECK(parse_tool_answer(broken, ToolSyntax::hermes).calls.empty());
  CHECK(parse_tool_answer(broken, ToolSyntax::hermes).content == broken);
  CHECK(parse_tool_answer("The weather is fine.", ToolSyntax::hermes).content ==
        "The weather is fine.");

  auto l = parse_tool_answer(R"(<|python_tag|>{"name": "f", "parameters": {"y": "z"}})",
                             ToolSyntax::llama3_json);
  REQUIRE(l.calls.size() == 1);
  CHECK(json::parse(l.calls[0].arguments) == json{{"y", "z"}});
  CHECK(parse_tool_answer("Hello!", ToolSyntax::llama3_json).content == "Hello!");
}
