#include "engine/serve/request_output.hpp"

#include <stdexcept>

namespace troupe {

RequestOutput::RequestOutput(const Tokenizer& tokenizer, std::string request_id,
                             const SamplingParams& params, int prompt_tokens)
    : request_id_(std::move(request_id)),
      with_logprobs_(params.logprobs > 0),
      prompt_tokens_(prompt_tokens) {
  for (int i = 0; i < params.n; ++i) {
    samples_.push_back({IncrementalDecoder(tokenizer), StopMatcher(params.stop)});
  }
}

std::optional<GenerationChunk> RequestOutput::add(int index, const SampledToken& token,
                                                  FinishReason finish) {
  if (index < 0 || index >= static_cast<int>(samples_.size())) {
    throw std::logic_error("RequestOutput: sample index out of range");
  }
  Sample& s = samples_[static_cast<size_t>(index)];
  if (finish != FinishReason::none && !s.engine_finished) {
    s.engine_finished = true;
    ++engine_finished_;
  }
  if (s.ended) return std::nullopt;
  ++completion_tokens_;

  GenerationChunk chunk;
  chunk.request_id = request_id_;
  chunk.index = index;
  chunk.tokens.push_back(with_logprobs_ ? token : SampledToken{token.token, 0.0f, {}});
  // An end-of-generation or stop-id token ends the text without adding to it, as in OpenAI's API.
  if (finish != FinishReason::stop) chunk.text = s.stops.feed(s.decoder.push(token.token));
  if (s.stops.stopped()) {
    chunk.finish_reason = "stop";
  } else if (finish != FinishReason::none) {
    chunk.text += s.stops.feed(s.decoder.flush());
    if (!s.stops.stopped()) chunk.text += s.stops.flush();
    chunk.finish_reason = finish == FinishReason::stop || s.stops.stopped() ? "stop" : "length";
  }
  if (!chunk.finish_reason.empty()) {
    s.ended = true;
    ++ended_;
  }
  return chunk;
}

GenerationChunk RequestOutput::add_embedding(std::vector<float> embedding) {
  for (Sample& s : samples_) {
    s.ended = s.engine_finished = true;
  }
  ended_ = engine_finished_ = static_cast<int>(samples_.size());
  GenerationChunk chunk;
  chunk.request_id = request_id_;
  chunk.finish_reason = "stop";
  chunk.embedding = std::move(embedding);
  return chunk;
}

GenerationEnd RequestOutput::end() const {
  GenerationEnd e;
  e.request_id = request_id_;
  e.prompt_tokens = prompt_tokens_;
  e.completion_tokens = completion_tokens_;
  return e;
}

}  // namespace troupe
