#include "net/api/tgi_exchange.hpp"

#include <nlohmann/json.hpp>

namespace troupe::api {
namespace {

using nlohmann::json;

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// TGI frames events as "data:<json>\n\n", without a space.
std::string tgi_event(const json& value) {
  return "data:" + dump(value) + "\n\n";
}

json details_of(const Tokenizer& tokenizer, const std::vector<SampledToken>& sampled,
                const std::string& finish_reason, std::optional<uint64_t> seed) {
  json tokens = json::array();
  for (const auto& t : sampled) {
    tokens.push_back(json{{"id", t.token},
                          {"text", tokenizer.token_bytes(t.token)},
                          {"logprob", t.logprob},
                          {"special", tokenizer.is_eog(t.token)}});
  }
  return {{"finish_reason", finish_reason},
          {"generated_tokens", sampled.size()},
          {"seed", seed ? json(*seed) : json(nullptr)},
          {"prefill", json::array()},
          {"tokens", tokens}};
}

// A stream's last event carries only these; the tokens went one per event.
json stream_details(const std::string& finish_reason, size_t generated,
                    std::optional<uint64_t> seed) {
  return {{"finish_reason", finish_reason},
          {"generated_tokens", generated},
          {"seed", seed ? json(*seed) : json(nullptr)}};
}

}  // namespace

TgiExchange::TgiExchange(std::string id, bool stream, const TgiGeneration& call,
                         const Tokenizer& tokenizer, std::shared_ptr<http::ResponseSink> sink,
                         std::shared_ptr<ExchangeObserver> observer, http::Headers extra_headers)
    : stream_(stream),
      details_(call.details),
      seed_(call.request.sampling.seed),
      tokenizer_(tokenizer),
      sink_(std::move(sink)),
      observer_(std::move(observer)),
      extra_headers_(std::move(extra_headers)) {
  summary_.request_id = std::move(id);
}

std::string TgiExchange::finish_reason() const {
  if (engine_finish_ == "length") return "length";
  if (!tokens_.empty() && tokenizer_.is_eog(tokens_.back().token)) return "eos_token";
  return "stop_sequence";
}

void TgiExchange::on_chunk(GenerationChunk chunk) {
  std::lock_guard lock(mutex_);
  if (done_) return;
  if (!chunk.tokens.empty()) time_tokens(*observer_, summary_, started_, last_token_);
  summary_.prompt_tokens += chunk.prompt_tokens;  // what a cancel is charged; the end corrects
  if (chunk.queue_seconds >= 0) observer_->queue_time(chunk.queue_seconds);
  if (!chunk.finish_reason.empty()) engine_finish_ = chunk.finish_reason;
  text_ += chunk.text;
  tokens_.insert(tokens_.end(), chunk.tokens.begin(), chunk.tokens.end());
  if (!stream_) return;
  if (!stream_started_) {
    stream_started_ = true;
    sink_->start_stream(200, "text/event-stream", extra_headers_);
  }
  for (size_t i = 0; i < chunk.tokens.size(); ++i) {
    const auto& t = chunk.tokens[i];
    const bool last_of_chunk = i + 1 == chunk.tokens.size();
    const bool last = last_of_chunk && !chunk.finish_reason.empty();
    json event = json{
        {"index", tokens_.size() - chunk.tokens.size() + i + 1},
        {"token",
         {{"id", t.token},
          {"text", last_of_chunk ? chunk.text : std::string()},
          {"logprob", t.logprob},
          {"special", tokenizer_.is_eog(t.token)}}},
        {"generated_text", last ? json(text_) : json(nullptr)},
        {"details", last ? stream_details(finish_reason(), tokens_.size(), seed_) : json(nullptr)}};
    sink_->write(tgi_event(event));
  }
}

void TgiExchange::cancelled() {
  std::lock_guard lock(mutex_);
  if (done_) return;
  done_ = true;
  report_cancelled(*observer_, summary_, static_cast<int>(tokens_.size()), started_);
}

void TgiExchange::on_end(GenerationEnd end) {
  std::lock_guard lock(mutex_);
  if (done_) return;
  done_ = true;
  summary_.prompt_tokens = end.prompt_tokens;
  summary_.completion_tokens = end.completion_tokens;
  summary_.e2e_seconds = seconds_since(started_);
  summary_.finish_reason = engine_finish_;
  observer_->charge(summary_.prompt_tokens, summary_.completion_tokens);
  if (!end.error.empty()) {
    const ApiError error = error_for_failure(end.error, end.message);
    summary_.error = end.error;
    summary_.finish_reason = "error";
    if (!stream_started_) {
      summary_.status = tgi_status(error);
      sink_->respond(error_response(error, summary_.status, tgi_error_json(error), extra_headers_));
    } else {
      sink_->write("data:" + tgi_error_json(error) + "\n\n");
      sink_->finish();
    }
  } else if (stream_) {
    if (!stream_started_) sink_->start_stream(200, "text/event-stream", extra_headers_);
    sink_->finish();
  } else {
    json body = {{"generated_text", text_}};
    if (details_) body["details"] = details_of(tokenizer_, tokens_, finish_reason(), seed_);
    sink_->respond({200, "application/json", dump(body), extra_headers_});
  }
  observer_->ended(summary_);
}

}  // namespace troupe::api
