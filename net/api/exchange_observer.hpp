#pragma once
// What the gateway learns from each generation exchange as it runs, for metrics, the usage
// ledger, rate limits and the request log. Called on any thread.
#include <string>

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
  // The call's usage is known and its answer is about to be sent: charge what must be charged
  // before the client can send its next request (the tokens-per-minute limit).
  virtual void charge(int prompt_tokens, int completion_tokens) = 0;
  // The answer has been handed to the sink, or the client went away.
  virtual void ended(const ExchangeSummary& summary) = 0;
};

}  // namespace troupe::api
