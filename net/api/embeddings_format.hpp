#pragma once
// The answer of POST /v1/embeddings: {"object": "list", "data": [{"object": "embedding",
// "index", "embedding"}], "model", "usage"}, each vector a list of floats or, with
// encoding_format base64, its float32 little-endian bytes in base64 (what the official SDK asks
// for by default, and decodes itself). Never streamed.
#include <string>

#include "net/api/answer_format.hpp"

namespace troupe::api {

class EmbeddingsFormat final : public AnswerFormat {
 public:
  EmbeddingsFormat(std::string model, bool base64) : model_(std::move(model)), base64_(base64) {}

  bool streams_deltas() const override { return false; }
  std::string prompt_param() const override { return "input"; }
  SseEvents opening(int) override { return {}; }
  SseEvents delta(int, const GenerationChunk&) override { return {}; }
  SseEvents whole_choice(int, const ChoiceResult&) override { return {}; }
  SseEvents closing(const std::vector<ChoiceResult>&, const std::optional<ApiError>&,
                    Usage) override {
    return {};
  }
  std::string body(const std::vector<ChoiceResult>& choices, Usage usage) override;

 private:
  std::string model_;
  bool base64_;
};

// The vector's float32 values, little-endian, in standard base64.
std::string base64_floats(const std::vector<float>& values);

}  // namespace troupe::api
