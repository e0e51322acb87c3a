#include "engine/serve/prompt_builder.hpp"

#include "engine/chat/json_value.hpp"

namespace troupe {

Result<PromptBuilder> PromptBuilder::create(const Model& model) {
  if (model.chat_template.empty()) return PromptBuilder(model, std::nullopt);
  auto parsed = chat::ChatTemplate::parse(model.chat_template);
  if (!parsed) return make_error("the model's chat template does not parse: " + parsed.message());
  return PromptBuilder(model, std::move(*parsed));
}

namespace {

// An assistant's calls for the template: JSON with each call's `arguments` text read into an
// object, as transformers' templates expect them (and vLLM gives them).
Result<chat::Value> tool_calls_value(std::string_view json) {
  auto calls = chat::parse_json_value(json);
  if (!calls) return make_error("a message's tool_calls: " + calls.message());
  if (!calls->is_array()) return make_error("a message's tool_calls must be a list");
  std::vector<chat::Value> out;
  for (const chat::Value& call : calls->items()) {
    if (!call.is_object()) return make_error("each of a message's tool_calls must be an object");
    chat::ObjectEntries entries;
    for (const auto& [key, value] : call.entries()) {
      if (key != "function" || !value.is_object()) {
        entries.emplace_back(key, value);
        continue;
      }
      chat::ObjectEntries function;
      for (const auto& [name, item] : value.entries()) {
        chat::Value kept = item;
        if (name == "arguments" && item.is_string()) {
          auto parsed = chat::parse_json_value(item.as_string());
          if (parsed && parsed->is_object()) kept = std::move(*parsed);
        }
        function.emplace_back(name, std::move(kept));
      }
      entries.emplace_back(key, chat::Value::object(std::move(function)));
    }
    out.push_back(chat::Value::object(std::move(entries)));
  }
  return chat::Value::array(std::move(out));
}

}  // namespace

Result<std::vector<int32_t>> PromptBuilder::chat(const std::vector<ChatTurn>& messages,
                                                 std::string_view tools) const {
  if (!template_) {
    return make_error(
        "the model has no chat template (tokenizer.chat_template): use a plain prompt");
  }
  std::vector<chat::ChatMessage> turns;
  for (const auto& m : messages) {
    chat::ChatMessage turn{m.role, m.content, chat::Value(), m.tool_call_id};
    if (!m.tool_calls.empty()) {
      auto calls = tool_calls_value(m.tool_calls);
      if (!calls) return calls.error();
      turn.tool_calls = std::move(*calls);
    }
    turns.push_back(std::move(turn));
  }
  const Tokenizer& tok = model_->tokenizer;
  chat::ChatTemplateOptions options;
  if (!tools.empty()) {
    auto parsed = chat::parse_json_value(tools);
    if (!parsed || !parsed->is_array()) return make_error("the request's tools are not a list");
    options.tools = std::move(*parsed);
  }
  options.add_generation_prompt = true;
  if (tok.bos() >= 0) options.bos_token = tok.token_bytes(tok.bos());
  if (tok.eos() >= 0) options.eos_token = tok.token_bytes(tok.eos());
  auto text = template_->apply(turns, options);
  if (!text) return make_error("the chat template failed: " + text.message());
  // Templates that write the BOS token themselves must not get a second one.
  const bool has_bos = !options.bos_token.empty() && text->rfind(options.bos_token, 0) == 0;
  return tok.encode(*text, /*add_special=*/!has_bos, /*parse_special=*/true);
}

Result<std::vector<int32_t>> PromptBuilder::tokens(const GenerateRequest& request) const {
  const int given =
      !request.messages.empty() + !request.prompt_tokens.empty() + !request.prompt.empty();
  if (given != 1) {
    return make_error("give exactly one of messages, a prompt, or prompt token ids");
  }
  if (!request.messages.empty()) return chat(request.messages, request.tools);
  if (!request.prompt_tokens.empty()) return request.prompt_tokens;
  return model_->tokenizer.encode(request.prompt, /*add_special=*/true, /*parse_special=*/true);
}

}  // namespace troupe
