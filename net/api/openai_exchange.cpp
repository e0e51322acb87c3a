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

OpenAiExchange::OpenAiExchange(Flow flow, std::unique_ptr<AnswerFormat> format,
                               std::shared_ptr<http::ResponseSink> sink,
                               std::shared_ptr<ExchangeObserver> observer,
                               http::Headers extra_headers)
    : flow_(std::move(flow)),
      format_(std::move(format)),
      sink_(std::move(sink)),
      observer_(std::move(observer)),
      extra_headers_(std::move(extra_headers)),
      choices_(static_cast<size_t>(flow_.n * flow_.prompts)),
      last_token_(choices_.size()) {
  summary_.request_id = flow_.id;
}

std::shared_ptr<GenerationListener> OpenAiExchange::listener(int prompt) {
  return std::make_shared<PromptListener>(shared_from_this(), prompt);
}

// The stream starts with the first chunk (a failure before it is still an HTTP error).
void OpenAiExchange::start_stream_locked() {
  if (stream_started_) return;
  stream_started_ = true;
  sink_->start_stream(200, "text/event-stream", extra_headers_);
  write_locked(format_->opening(static_cast<int>(choices_.size())));
}

void OpenAiExchange::write_locked(SseEvents events) {
  for (std::string& e : events) sink_->write(std::move(e));
}

void OpenAiExchange::on_chunk(int prompt, GenerationChunk chunk) {
  std::lock_guard lock(mutex_);
  if (done_) return;
  const int index = prompt * flow_.n + chunk.index;
  if (index < 0 || index >= static_cast<int>(choices_.size())) return;
  auto& choice = choices_[static_cast<size_t>(index)];
  tokens_seen_ += static_cast<int>(chunk.tokens.size());
  summary_.prompt_tokens += chunk.prompt_tokens;  // what a cancel is charged; the end corrects
  if (chunk.queue_seconds >= 0) observer_->queue_time(chunk.queue_seconds);
  if (!chunk.tokens.empty()) {
    time_tokens(*observer_, summary_, started_, last_token_[static_cast<size_t>(index)]);
  }
  if (!chunk.finish_reason.empty()) choice.finish_reason = chunk.finish_reason;
  choice.text += chunk.text;
  choice.tokens.insert(choice.tokens.end(), chunk.tokens.begin(), chunk.tokens.end());
  if (!chunk.embedding.empty()) choice.embedding = std::move(chunk.embedding);
  if (!flow_.stream) return;
  start_stream_locked();  // a held choice's stream opens now too: the client sees it begin
  if (format_->streams_deltas()) {
    write_locked(format_->delta(index, chunk));
  } else if (!chunk.finish_reason.empty()) {
    write_locked(format_->whole_choice(index, choice));
  }
}

void OpenAiExchange::on_end(int /*prompt*/, GenerationEnd end) {
  std::lock_guard lock(mutex_);
  if (done_) return;
  usage_.completion_tokens += end.completion_tokens;
  usage_.prompt_tokens += end.prompt_tokens;
  if (!end.error.empty() && !error_) {
    error_ = error_for_failure(end.error, end.message);
    if (end.error == request_error::kContextLength) error_->param = format_->prompt_param();
  }
  if (++ended_ == flow_.prompts) return finish_locked();
  // Not streamed, the answer is this error alone: the other prompts would run (and be billed)
  // for nothing.
  if (error_ && !flow_.stream) {
    if (cancel_all_) cancel_all_();
    finish_locked();
  }
}

void OpenAiExchange::set_cancel_all(std::function<void()> cancel_all) {
  std::lock_guard lock(mutex_);
  cancel_all_ = std::move(cancel_all);
  // Answered (or abandoned) before submit_all returned, with prompts still running.
  if (done_ && ended_ < flow_.prompts) cancel_all_();
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
  summary_.finish_reason = choices_.empty() ? "" : choices_.front().finish_reason;
  if (error_) {
    summary_.error = error_->code;
    summary_.finish_reason = "error";
  }
  observer_->charge(summary_.prompt_tokens, summary_.completion_tokens);
  if (error_ && !stream_started_) {
    summary_.status = error_->status;
    sink_->respond(error_response(*error_, extra_headers_));
  } else if (flow_.stream) {
    start_stream_locked();
    write_locked(format_->closing(choices_, error_, usage_));
    sink_->finish();
  } else {
    sink_->respond({200, "application/json", format_->body(choices_, usage_), extra_headers_});
  }
  observer_->ended(summary_);
}

}  // namespace troupe::api
