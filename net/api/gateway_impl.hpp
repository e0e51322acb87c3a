#pragma once
// The gateway's inside, shared by its route files (gateway.cpp: routing, auth, limits, records;
// openai_routes.cpp, tgi_routes.cpp, tokenize_routes.cpp, health_routes.cpp, cluster_routes.cpp
// chat_page.cpp and operator_page.cpp: one family of endpoints each).
#include <atomic>
#include <string_view>

#include "net/api/api_error.hpp"
#include "net/api/exchange_observer.hpp"
#include "net/api/gateway.hpp"

namespace troupe::api {

// Counts each answer's status once for /metrics, by route and API key, and remembers it for
// the log line. A generation call's observer takes the counting over (hand_over), since only
// its end knows the status the client was left with: 499 when it went away first.
class RecordingSink final : public http::ResponseSink {
 public:
  RecordingSink(std::shared_ptr<http::ResponseSink> inner, metrics::ServingMetrics* metrics,
                std::string route)
      : inner_(std::move(inner)), metrics_(metrics), route_(std::move(route)) {}
  void respond(http::Response response) override {
    record(response.status);
    inner_->respond(std::move(response));
  }
  void start_stream(int status, std::string content_type, http::Headers headers) override {
    record(status);
    inner_->start_stream(status, std::move(content_type), std::move(headers));
  }
  void write(std::string data) override { inner_->write(std::move(data)); }
  void finish() override { inner_->finish(); }
  void on_disconnect(std::function<void()> callback) override {
    inner_->on_disconnect(std::move(callback));
  }
  int status() const { return status_; }
  void set_key(std::string key) { key_ = std::move(key); }  // before the answer
  void hand_over() { handed_over_ = true; }                 // before the answer

 private:
  void record(int status) {
    status_ = status;
    if (metrics_ && !handed_over_) metrics_->record_http_response(route_, status, key_);
  }
  std::shared_ptr<http::ResponseSink> inner_;
  metrics::ServingMetrics* metrics_;
  std::string route_;
  std::string key_;
  bool handed_over_ = false;
  std::atomic<int> status_{0};
};

// One HTTP request being answered.
struct Call {
  http::Request request;
  std::shared_ptr<http::ResponseSink> sink;
  RecordingSink* recording = nullptr;  // what `sink` is
  std::string route;                   // the matched route pattern, for metrics
  std::string key_name;                // the API key's name, "anonymous" when auth is off
  http::Headers cors;                  // headers every answer carries
};

struct GatewayCore {
  GatewayConfig config;
  GatewayParts parts;
  std::atomic<uint64_t> next_id{0};
  std::atomic<int> calls_in_flight{0};  // from submit_all to the observer's ended()
  std::string id_prefix;                // random per process, so ids differ across restarts

  GatewayCore(GatewayConfig c, GatewayParts p);

  std::string new_id(const char* kind);  // e.g. "chatcmpl-3f2a…"
  void reply_json(Call& call, int status, std::string body);
  void reply_html(Call& call, std::string_view page);  // a page built into the binary
  void reply_error(Call& call, const ApiError& error);
  // The observer of a call that will submit `requests`: it reserves their tokens at once.
  std::shared_ptr<ExchangeObserver> observer(const Call& call,
                                             const std::vector<GenerateRequest>& requests);
  // Submits each request of a decoded call. When the client goes away, cancels them all, then
  // calls `on_cancel`. Returns what cancels them all (an answer that gives up on them).
  std::function<void()> submit_all(
      Call& call, std::vector<GenerateRequest> requests,
      const std::function<std::shared_ptr<GenerationListener>(int)>& listener_of,
      std::function<void()> on_cancel);

  // Routes.
  void chat_completions(Call& call);
  void completions(Call& call);
  void responses(Call& call);
  void embeddings(Call& call);
  void models(Call& call);
  void tokenize(Call& call);
  void detokenize(Call& call);
  void tgi_generate(Call& call);
  void tgi_generate_stream(Call& call);
  void tgi_info(Call& call);
  void chat_page(Call& call);
  void operator_page(Call& call);
  void health(Call& call);
  void live(Call& call);
  void cluster(Call& call);
  void drain_node(Call& call);
  void undrain_node(Call& call);
  void metrics(Call& call);
};

}  // namespace troupe::api
