#include "net/api/openai_exchange.hpp"

namespace troupe::api {
class OpenAiExchange::PromptListener final : public GenerationListener {
 public:
  PromptListener(std::shared_ptr<OpenAiExchange> exchange, int prompt)
      : exchange_(std::move(exchange)), prompt_(prompt) {}
  void on_chunk(GenerationChunk chunk) override { exchange_->on_chunk(prompt_, std::move(chunk)); }
  void on_end(GenerationEnd end) override { exchange_->on_end(prompt_, std::move(end)); }

 private:
  std::shared_ptr<OpenAiExchange> exchange_;
  int prompt_;
};

OpenAiExchange::OpenAiExchange(ResponseShape shape, const ApiGeneration& call,
                               std::shared_ptr<http::ResponseSink> sink,
                               std::shared_ptr<ExchangeObserver> observer,
                               http::Headers extra_headers)
    : shape_(std::move(shape)),
      stream_(call.stream),
      n_(call.requests.empty() ? 1 : call.requests.front().sampling.n),
      prompts_(static_cast<int>(call.requests.size())),
      sink_(std::move(sink)),
      observer_(std::move(observer)),
      extra_headers_(std::move(extra_headers)),
      choices_(static_cast<size_t>(n_ * prompts_)) {
  summary_.request_id = shape_.id;
}

std::shared_ptr<GenerationListener> OpenAiExchange::listener(int prompt) {
  return std::make_shared<PromptListener>(shared_from_this(), prompt);
}

void OpenAiExchange::start_stream_locked() {
  if (stream_started_) return;
  stream_started_ = true;
  sink_->start_stream(200, "text/event-stream", extra_headers_);
  if (!shape_.chat) return;
  for (int i = 0; i < static_cast<int>(choices_.size()); ++i) {
    sink_->write(sse_event(role_chunk(shape_, i)));
  }
}

void OpenAiExchange::on_chunk(int prompt, GenerationChunk chunk) {
  std::lock_guard lock(mutex_);
  if (done_) return;
  const int index = prompt * n_ + chunk.index;
  if (index < 0 || index >= static_cast<int>(choices_.size())) return;
  auto& choice = choices_[static_cast<size_t>(index)];
  tokens_seen_ += static_cast<int>(chunk.tokens.size());
  summary_.prompt_tokens += chunk.prompt_tokens;  // what a cancel is charged; the end corrects
  if (chunk.queue_seconds >= 0) observer_->queue_time(chunk.queue_seconds);
  if (!chunk.tokens.empty()) time_tokens(*observer_, summary_, started_, choice.last_token);
  if (!chunk.finish_reason.empty()) choice.result.finish_reason = chunk.finish_reason;
  if (!stream_ || shape_.tools) {
    // Tool answers are read whole (tool_answer_chunks): streamed once they end.
    choice.result.text += chunk.text;
    choice.result.tokens.insert(choice.result.tokens.end(), chunk.tokens.begin(),
                                chunk.tokens.end());
    if (stream_ && !chunk.finish_reason.empty()) {
      start_stream_locked();
      for (const std::string& data :
           tool_answer_chunks(shape_, index, choice.result.text, chunk.finish_reason)) {
        sink_->write(sse_event(data));
      }
    }
    return;
  }
  const bool worth_sending = !chunk.text.empty() || !chunk.finish_reason.empty() ||
                             (shape_.logprobs && !chunk.tokens.empty());
  if (!worth_sending) return;
  start_stream_locked();
  sink_->write(sse_event(delta_chunk(shape_, index, chunk)));
}

void OpenAiExchange::on_end(int prompt, GenerationEnd end) {
  std::lock_guard lock(mutex_);
  if (done_) return;
  usage_.completion_tokens += end.completion_tokens;
  usage_.prompt_tokens += end.prompt_tokens;
  if (!end.error.empty() && !error_) {
    error_ = error_for_failure(end.error, end.message);
    if (end.error == request_error::kContextLength)
      error_->param = shape_.chat ? "messages" : "prompt";
  }
  if (++ended_ == prompts_) finish_locked();
}

void OpenAiExchange::cancelled() {
  std::lock_guard lock(mutex_);
  if (done_) return;
  done_ = true;
  report_cancelled(*observer_, summary_, tokens_seen_, started_);
}

void OpenAiExchange::finish_locked() {
  done_ = true;
  summary_.prompt_tokens = usage_.prompt_tokens;
  summary_.completion_tokens = usage_.completion_tokens;
  summary_.e2e_seconds = seconds_since(started_);
  summary_.finish_reason = choices_.empty() ? "" : choices_.front().result.finish_reason;
  if (error_) {
    summary_.error = error_->code;
    summary_.finish_reason = "error";
  }
  observer_->charge(summary_.prompt_tokens, summary_.completion_tokens);
  if (error_ && !stream_started_) {
    summary_.status = error_->status;
    sink_->respond(error_response(*error_, extra_headers_));
  } else if (stream_) {
    start_stream_locked();
    if (error_) sink_->write(sse_event(error_json(*error_)));
    if (shape_.include_usage) sink_->write(sse_event(usage_chunk(shape_, usage_)));
    sink_->write(std::string(kSseDone));
    sink_->finish();
  } else {
    std::vector<ChoiceResult> results;
    for (auto& c : choices_) results.push_back(std::move(c.result));
    sink_->respond(
        {200, "application/json", full_response(shape_, results, usage_), extra_headers_});
  }
  observer_->ended(summary_);
}

}  // namespace troupe::api
