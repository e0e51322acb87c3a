#pragma once
// One OpenAI call in flight (chat, completions, responses): hears its engine requests' chunks
// (one request per prompt, n samples each) and answers the HTTP sink — SSE events as tokens
// arrive, or one body at the end, in the words of its AnswerFormat; a failure before the first
// event becomes an HTTP error, one after it an error event in the stream.
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "net/api/answer_format.hpp"
#include "net/api/api_error.hpp"
#include "net/api/exchange_observer.hpp"
#include "net/api/generation_service.hpp"
#include "net/http/http_exchange.hpp"

namespace troupe::api {

class OpenAiExchange : public std::enable_shared_from_this<OpenAiExchange> {
 public:
  struct Flow {
    bool stream = false;
    int n = 1;        // samples per prompt
    int prompts = 1;  // engine requests
    std::string id;   // the call's id, for the records
  };
  OpenAiExchange(Flow flow, std::unique_ptr<AnswerFormat> format,
                 std::shared_ptr<http::ResponseSink> sink,
                 std::shared_ptr<ExchangeObserver> observer, http::Headers extra_headers);

  // The listener for prompt `prompt` of the call.
  std::shared_ptr<GenerationListener> listener(int prompt);
  // The client went away: records the call as aborted (its requests are cancelled elsewhere).
  void cancelled();
  // What cancels every request of the call (GatewayCore::submit_all's): a non-streamed answer
  // is a failed prompt's error alone, so it is sent at once and the other prompts cancelled.
  void set_cancel_all(std::function<void()> cancel_all);

 private:
  class PromptListener;
  void on_chunk(int prompt, GenerationChunk chunk);
  void on_end(int prompt, GenerationEnd end);
  void start_stream_locked();
  void write_locked(SseEvents events);
  void finish_locked();

  std::mutex mutex_;
  Flow flow_;
  std::unique_ptr<AnswerFormat> format_;
  std::shared_ptr<http::ResponseSink> sink_;
  std::shared_ptr<ExchangeObserver> observer_;
  http::Headers extra_headers_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  bool stream_started_ = false;
  int tokens_seen_ = 0;  // over all choices, for a call cancelled before its end
  int ended_ = 0;
  bool done_ = false;  // answered, or cancelled
  std::function<void()> cancel_all_;
  std::vector<ChoiceResult> choices_;
  std::vector<std::chrono::steady_clock::time_point> last_token_;  // per choice
  Usage usage_;
  std::optional<ApiError> error_;
  ExchangeSummary summary_;
};

}  // namespace troupe::api
