#include "engine/serve/prompt_builder.hpp"

namespace troupe {

Result<PromptBuilder> PromptBuilder::create(const Model& model) {
  if (model.chat_template.empty()) return PromptBuilder(model, std::nullopt);
  auto parsed = chat::ChatTemplate::parse(model.chat_template);
  if (!parsed) return make_error("the model's chat template does not parse: " + parsed.message());
  return PromptBuilder(model, std::move(*parsed));
}

Result<std::vector<int32_t>> PromptBuilder::chat(const std::vector<ChatTurn>& messages) const {
  if (!template_) {
    return make_error(
        "the model has no chat template (tokenizer.chat_template): use a plain prompt");
  }
  std::vector<chat::ChatMessage> turns;
  for (const auto& m : messages) turns.push_back({m.role, m.content});
  const Tokenizer& tok = model_->tokenizer;
  chat::ChatTemplateOptions options;
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
  if (!request.messages.empty()) return chat(request.messages);
  if (!request.prompt_tokens.empty()) return request.prompt_tokens;
  return model_->tokenizer.encode(request.prompt, /*add_special=*/true, /*parse_special=*/true);
}

}  // namespace troupe
