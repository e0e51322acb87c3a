// PromptBuilder with a template that knows tools: a request's tools and an assistant's earlier
// calls, sent in OpenAI's shape (JSON texts, arguments as a string), render exactly as
// transformers renders the same conversation with jinja2 (tests/fixtures/chat/expected.json).
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/model/model.hpp"
#include "engine/serve/prompt_builder.hpp"
#include "tests/support/text_file.hpp"
#include "tests/support/tiny_model.hpp"

using namespace troupe;
using Json = nlohmann::ordered_json;

namespace {

const std::string kChatFixtures = std::string(TROUPE_SOURCE_DIR) + "/tests/fixtures/chat/";

Json fixture_case(const std::string& name) {
  const Json fixtures = Json::parse(test::read_text_file(kChatFixtures + "expected.json"));
  for (const Json& c : fixtures["cases"]) {
    if (c["name"] == name) return c;
  }
  FAIL("no fixture case " << name);
  return {};
}

// The fixture's messages as an OpenAI client sends them: content null as absent text, each
// call's arguments as a JSON string.
std::vector<ChatTurn> openai_turns(const Json& messages) {
  std::vector<ChatTurn> turns;
  for (const Json& m : messages) {
    ChatTurn turn(m["role"], m["content"].is_string() ? m["content"].get<std::string>() : "");
    if (m.contains("tool_calls")) {
      Json calls = m["tool_calls"];
      for (Json& call : calls) call["function"]["arguments"] = call["function"]["arguments"].dump();
      turn.tool_calls = calls.dump();
    }
    if (m.contains("tool_call_id")) turn.tool_call_id = m["tool_call_id"];
    turns.push_back(std::move(turn));
  }
  return turns;
}

}  // namespace

TEST_CASE("prompt builder: tools and tool calls render as transformers renders them") {
  auto model = load_model(test::write_tiny_model("prompt-builder", {}));
  REQUIRE(model.ok());
  model->chat_template = test::read_text_file(kChatFixtures + "templates/qwen25_instruct.jinja");
  auto builder = PromptBuilder::create(*model);
  REQUIRE(builder.ok());
  for (const char* name : {"qwen25_instruct/tools/gen", "qwen25_instruct/tool_conversation/gen"}) {
    INFO(name);
    const Json c = fixture_case(name);
    auto tokens = builder->chat(openai_turns(c["messages"]), c["extra"]["tools"].dump());
    REQUIRE(tokens.ok());
    CHECK(*tokens == model->tokenizer.encode(c["expected"].get<std::string>(), true, true));
  }
}

TEST_CASE("prompt builder: malformed tools or tool calls are errors, not crashes") {
  auto model = load_model(test::write_tiny_model("prompt-builder", {}));
  REQUIRE(model.ok());
  model->chat_template = test::read_text_file(kChatFixtures + "templates/qwen25_instruct.jinja");
  auto builder = PromptBuilder::create(*model);
  REQUIRE(builder.ok());
  const std::vector<ChatTurn> user = {{"user", "hi"}};
  CHECK_FALSE(builder->chat(user, "{\"not\": \"a list\"}").ok());
  CHECK_FALSE(builder->chat(user, "[1, 2").ok());
  CHECK_FALSE(builder->chat({{"assistant", "", "{\"x\": 1}"}}, "").ok());
  // Arguments that are not a JSON object stay as the text they are.
  CHECK(
      builder
          ->chat({{"user", "hi"},
                  {"assistant", "",
                   R"([{"id":"c","type":"function","function":{"name":"f","arguments":"oops"}}])"},
                  {"tool", "ok", "", "c"}},
                 "")
          .ok());
}
