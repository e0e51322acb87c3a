#pragma once
// What the gateway learns from each generation exchange as it runs, for metrics, the usage
// ledger, rate limits and the request log. Called on any thread.
#include <chrono>
#include <string>

#include "engine/serve/generate_request.hpp"

namespace troupe::api {

struct ExchangeSummary {
  std::string request_id;
  int status = 200;  // the HTTP status the client saw (200 even if a stream failed midway)
  int prompt_tokens = 0;
  int completion_tokens = 0;
  double ttft_seconds = -1;  // < 0: no token came
  double e2e_seconds = 0;
  std::string finish_reason;  // of the first choice: stop, length; or "error", "abort"
  std::string error;          // a request_error code, empty on success
};

class ExchangeObserver {
 public:
  virtual ~ExchangeObserver() = default;
  virtual void first_token(double seconds) = 0;
  virtual void inter_token(double seconds) = 0;
  virtual void queue_time(double seconds) = 0;  // a request's wait for its first engine step
  // The call's usage is known and its answer is about to be sent: charge what must be charged
  // before the client can send its next request (the tokens-per-minute limit).
  virtual void charge(int prompt_tokens, int completion_tokens) = 0;
  // The answer has been handed to the sink, or the client went away.
  virtual void ended(const ExchangeSummary& summary) = 0;
};

// A call refused before the engine ran it (a prompt too long, a full queue, a draining node):
// counted apart from the requests that finished, as vLLM never counts them as requests.
inline bool refused_before_running(const ExchangeSummary& s) {
  static constexpr const char* kRefusals[] = {
      request_error::kInvalid, request_error::kContextLength, request_error::kOverloaded,
      request_error::kDraining, request_error::kUnavailable};
  if (s.ttft_seconds >= 0) return false;
  for (const char* code : kRefusals) {
    if (s.error == code) return true;
  }
  return false;
}

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// New tokens arrived for a sample whose previous ones came at `last` (never: a default time
// point): the call's first token gives its TTFT, later ones an inter-token latency.
inline void time_tokens(ExchangeObserver& observer, ExchangeSummary& summary,
                        std::chrono::steady_clock::time_point start,
                        std::chrono::steady_clock::time_point& last) {
  const auto now = std::chrono::steady_clock::now();
  if (summary.ttft_seconds < 0) {
    summary.ttft_seconds = std::chrono::duration<double>(now - start).count();
    observer.first_token(summary.ttft_seconds);
  } else if (last != std::chrono::steady_clock::time_point{}) {
    observer.inter_token(std::chrono::duration<double>(now - last).count());
  }
  last = now;
}

// The client went away before the answer: the call is recorded as aborted, with status 499
// (nginx's word for "client closed the request") and the tokens it had by then.
inline void report_cancelled(ExchangeObserver& observer, ExchangeSummary& summary,
                             int completion_tokens, std::chrono::steady_clock::time_point start) {
  summary.status = 499;
  summary.finish_reason = "abort";
  summary.error = "client_closed";
  summary.completion_tokens = completion_tokens;
  summary.e2e_seconds = seconds_since(start);
  observer.charge(summary.prompt_tokens, summary.completion_tokens);
  observer.ended(summary);
}

}  // namespace troupe::api
