#pragma once
// One TGI /generate or /generate_stream call in flight: one event per token (the last carries
// the whole text and the details), or one body at the end.
#include <chrono>
#include <memory>
#include <mutex>

#include "engine/tokenizer/tokenizer.hpp"
#include "net/api/exchange_observer.hpp"
#include "net/api/generation_service.hpp"
#include "net/api/tgi_request.hpp"
#include "net/http/http_exchange.hpp"

namespace troupe::api {

class TgiExchange final : public GenerationListener {
 public:
  TgiExchange(std::string id, bool stream, const TgiGeneration& call, const Tokenizer& tokenizer,
              std::shared_ptr<http::ResponseSink> sink, std::shared_ptr<ExchangeObserver> observer,
              http::Headers extra_headers);
  void on_chunk(GenerationChunk chunk) override;
  void on_end(GenerationEnd end) override;
  // The client went away: records the call as aborted (its request is cancelled elsewhere).
  void cancelled();

 private:
  std::string finish_reason() const;  // TGI's words: length, eos_token, stop_sequence

  std::mutex mutex_;
  bool stream_;
  bool details_;
  std::optional<uint64_t> seed_;
  const Tokenizer& tokenizer_;
  std::shared_ptr<http::ResponseSink> sink_;
  std::shared_ptr<ExchangeObserver> observer_;
  http::Headers extra_headers_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_token_{};
  bool stream_started_ = false;
  bool done_ = false;  // answered, or cancelled
  std::string text_;
  std::vector<SampledToken> tokens_;
  std::string engine_finish_;
  ExchangeSummary summary_;
};

}  // namespace troupe::api
