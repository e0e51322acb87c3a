#pragma once
// How one OpenAI-style call's answer is written: the whole body at the end, or Server-Sent
// Events as tokens arrive. OpenAiExchange owns the call's flow (choices, usage, errors, the
// observer) and asks a format for the bytes: chat and text completions (completion_format.hpp)
// and the Responses API (responses_format.hpp) differ only here. Called under the exchange's
// lock, in the order: opening once (when the stream starts), deltas or whole choices, closing.
#include <optional>
#include <string>
#include <vector>

#include "engine/serve/generate_request.hpp"
#include "net/api/api_error.hpp"

namespace troupe::api {

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
};

// One choice as it has come so far; whole at the end.
struct ChoiceResult {
  std::string text;
  std::string finish_reason;
  std::vector<SampledToken> tokens;
  std::vector<float> embedding;  // an embedding request's vector
};

// SSE events, each framed whole ("data: …\n\n", or "event: …\ndata: …\n\n").
using SseEvents = std::vector<std::string>;

class AnswerFormat {
 public:
  virtual ~AnswerFormat() = default;
  // Whether a streamed choice goes out as its chunks arrive; otherwise it is held and streamed
  // once whole, when it ends (an answer that must be parsed first: tool calls).
  virtual bool streams_deltas() const = 0;
  // The request field a prompt too long for the context is blamed on.
  virtual std::string prompt_param() const = 0;

  virtual SseEvents opening(int choices) = 0;
  // A chunk of choice `index`; nothing when it carries nothing worth an event.
  virtual SseEvents delta(int index, const GenerationChunk& chunk) = 0;
  // A held choice that has ended.
  virtual SseEvents whole_choice(int index, const ChoiceResult& choice) = 0;
  // The stream's end: every choice as it ended, and an error when the call failed midway.
  virtual SseEvents closing(const std::vector<ChoiceResult>& choices,
                            const std::optional<ApiError>& error, Usage usage) = 0;
  // The JSON body of a call that did not stream.
  virtual std::string body(const std::vector<ChoiceResult>& choices, Usage usage) = 0;
};

}  // namespace troupe::api
