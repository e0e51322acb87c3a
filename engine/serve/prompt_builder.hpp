#pragma once
// Turns a GenerateRequest's prompt into token ids: chat messages through the model's chat
// template (parsed once), plain text with BOS, or token ids as given.
#include <optional>
#include <vector>

#include "engine/chat/chat_template.hpp"
#include "engine/model/model.hpp"
#include "engine/result.hpp"
#include "engine/serve/generate_request.hpp"

namespace troupe {

class PromptBuilder {
 public:
  // `model` must outlive the builder. A model without a chat template can still take text and
  // tokens; a template that does not parse is an error here, not at the first chat request.
  static Result<PromptBuilder> create(const Model& model);

  Result<std::vector<int32_t>> tokens(const GenerateRequest& request) const;
  // `tools`: a JSON array of tools for the template, or empty.
  Result<std::vector<int32_t>> chat(const std::vector<ChatTurn>& messages,
                                    std::string_view tools = {}) const;

 private:
  PromptBuilder(const Model& model, std::optional<chat::ChatTemplate> chat_template)
      : model_(&model), template_(std::move(chat_template)) {}
  const Model* model_;
  std::optional<chat::ChatTemplate> template_;
};

}  // namespace troupe
