#pragma once
// One OpenAI call in flight: hears its engine requests' chunks (one request per prompt) and
// answers the HTTP sink — SSE chunks as tokens arrive, or one body at the end; a failure before
// the first chunk becomes an HTTP error, one after it an error event in the stream.
#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

#include "net/api/api_error.hpp"
#include "net/api/exchange_observer.hpp"
#include "net/api/generation_service.hpp"
#include "net/api/openai_request.hpp"
#include "net/api/openai_response.hpp"
#include "net/http/http_exchange.hpp"

namespace troupe::api {

class OpenAiExchange : public std::enable_shared_from_this<OpenAiExchange> {
 public:
  OpenAiExchange(ResponseShape shape, const ApiGeneration& call,
                 std::shared_ptr<http::ResponseSink> sink,
                 std::shared_ptr<ExchangeObserver> observer, http::Headers extra_headers);

  // The listener for prompt `prompt` of the call.
  std::shared_ptr<GenerationListener> listener(int prompt);
  // The client went away: records the call as aborted (its requests are cancelled elsewhere).
  void cancelled();

 private:
  class PromptListener;
  struct Choice {
    ChoiceResult result;
    std::chrono::steady_clock::time_point last_token{};
  };
  void on_chunk(int prompt, GenerationChunk chunk);
  void on_end(int prompt, GenerationEnd end);
  void start_stream_locked();
  void finish_locked();

  std::mutex mutex_;
  ResponseShape shape_;
  bool stream_;
  int n_;
  int prompts_;
  std::shared_ptr<http::ResponseSink> sink_;
  std::shared_ptr<ExchangeObserver> observer_;
  http::Headers extra_headers_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  bool stream_started_ = false;
  int tokens_seen_ = 0;  // over all choices, for a call cancelled before its end
  int ended_ = 0;
  bool done_ = false;  // answered, or cancelled
  std::vector<Choice> choices_;
  Usage usage_;
  std::optional<ApiError> error_;
  ExchangeSummary summary_;
};

}  // namespace troupe::api
