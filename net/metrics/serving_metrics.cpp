#include "net/metrics/serving_metrics.hpp"

#include "engine/serve/generate_request.hpp"

#include "net/metrics/latency_counts.hpp"
#include "net/metrics/process_sample.hpp"

#include <utility>
#include <vector>

namespace troupe::metrics {

namespace {

// Adds to `counter` what a cumulative number grew by since `last`; a drop means its source
// restarted from zero, so it only becomes the new base.
void add_growth(Counter& counter, int64_t& last, int64_t now) {
  if (now > last) counter.inc(static_cast<double>(now - last));
  last = now;
}

}  // namespace

ServingMetrics::ServingMetrics(std::string model_name)
    : model_name_(std::move(model_name)),
      requests_running_(registry_
                            .gauge("troupe_num_requests_running",
                                   "Number of requests running on the model's replicas.",
                                   {"model_name"})
                            .with({model_name_})),
      requests_waiting_(registry_
                            .gauge("troupe_num_requests_waiting",
                                   "Number of requests waiting to be scheduled.", {"model_name"})
                            .with({model_name_})),
      kv_cache_usage_(registry_
                          .gauge("troupe_kv_cache_usage_perc",
                                 "Fraction of KV-cache blocks in use (0 to 1).", {"model_name"})
                          .with({model_name_})),
      prefix_cache_hit_rate_(registry_
                                 .gauge("troupe_prefix_cache_hit_rate",
                                        "Fraction of prefix-cache queries that hit (0 to 1).",
                                        {"model_name"})
                                 .with({model_name_})),
      prefix_cache_queries_(registry_
                                .counter("troupe_prefix_cache_queries_total",
                                         "Prefix-cache queries, in tokens queried.", {"model_name"})
                                .with({model_name_})),
      prefix_cache_hits_(registry_
                             .counter("troupe_prefix_cache_hits_total",
                                      "Prefix-cache hits, in tokens found cached.", {"model_name"})
                             .with({model_name_})),
      time_to_first_token_(registry_
                               .histogram("troupe_time_to_first_token_seconds",
                                          "Time from arrival to the first token, in seconds.",
                                          {"model_name"}, kTimeToFirstTokenBounds)
                               .with({model_name_})),
      inter_token_latency_(registry_
                               .histogram("troupe_inter_token_latency_seconds",
                                          "Time between consecutive tokens, in seconds.",
                                          {"model_name"}, kInterTokenBounds)
                               .with({model_name_})),
      e2e_request_latency_(registry_
                               .histogram("troupe_e2e_request_latency_seconds",
                                          "Time from arrival to the end of a request, in seconds.",
                                          {"model_name"}, kRequestLatencyBounds)
                               .with({model_name_})),
      queue_time_(registry_
                      .histogram("troupe_request_queue_time_seconds",
                                 "Time from arrival at the engine to the first step, in seconds.",
                                 {"model_name"}, kRequestLatencyBounds)
                      .with({model_name_})),
      preemptions_(registry_
                       .counter("troupe_num_preemptions_total",
                                "Sequences preempted (their KV blocks freed, to be recomputed).",
                                {"model_name"})
                       .with({model_name_})),
      prompt_tokens_(registry_
                         .counter("troupe_prompt_tokens_total",
                                  "Prompt tokens of finished requests.", {"model_name"})
                         .with({model_name_})),
      generation_tokens_(registry_
                             .counter("troupe_generation_tokens_total",
                                      "Tokens generated for finished requests.", {"model_name"})
                             .with({model_name_})),
      request_success_(registry_.counter("troupe_request_success_total",
                                         "Finished requests, by why they finished.",
                                         {"model_name", "finished_reason"})),
      request_rejected_(registry_.counter("troupe_request_rejected_total",
                                          "Requests refused before they ran, by why.",
                                          {"model_name", "reason"})),
      http_requests_(registry_.counter("troupe_http_requests_total",
                                       "HTTP responses, by route and status code.",
                                       {"route", "status"})),
      key_requests_(registry_.counter("troupe_key_requests_total",
                                      "HTTP responses to each API key, by status code.",
                                      {"key", "status"})),
      key_prompt_tokens_(registry_.counter("troupe_key_prompt_tokens_total",
                                           "Prompt tokens billed to each API key.", {"key"})),
      key_generation_tokens_(registry_.counter("troupe_key_generation_tokens_total",
                                               "Tokens generated for each API key.", {"key"})),
      open_connections_(
          registry_.gauge("troupe_http_open_connections", "HTTP connections open now.", {})
              .with({})),
      resident_memory_(
          registry_.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", {})
              .with({})),
      open_fds_(
          registry_.gauge("process_open_fds", "Number of open file descriptors.", {}).with({})) {
  // Present from the start, so that rate() sees the first request of each kind.
  for (const char* reason : {"stop", "length", "abort", "error"}) {
    request_success_.with({model_name_, reason});
  }
}

void ServingMetrics::set_replica_load(int running, int waiting, double kv_usage,
                                      int64_t prefix_queries, int64_t prefix_hits,
                                      int64_t preemptions) {
  requests_running_.set(running);
  requests_waiting_.set(waiting);
  kv_cache_usage_.set(kv_usage);
  prefix_cache_hit_rate_.set(prefix_queries > 0 ? static_cast<double>(prefix_hits) /
                                                      static_cast<double>(prefix_queries)
                                                : 0.0);
  std::lock_guard lock(prefix_mutex_);
  add_growth(prefix_cache_queries_, last_prefix_queries_, prefix_queries);
  add_growth(prefix_cache_hits_, last_prefix_hits_, prefix_hits);
  add_growth(preemptions_, last_preemptions_, preemptions);
}

void ServingMetrics::observe_first_token(double seconds) {
  time_to_first_token_.observe(seconds);
}

void ServingMetrics::observe_inter_token(double seconds) {
  inter_token_latency_.observe(seconds);
}

void ServingMetrics::observe_queue_time(double seconds) {
  queue_time_.observe(seconds);
}

void ServingMetrics::record_request_end(const std::string& key, double e2e_seconds,
                                        int prompt_tokens, int completion_tokens,
                                        const std::string& finished_reason) {
  e2e_request_latency_.observe(e2e_seconds);
  prompt_tokens_.inc(prompt_tokens);
  generation_tokens_.inc(completion_tokens);
  request_success_.with({model_name_, finished_reason}).inc();
  requests_.fetch_add(1, std::memory_order_relaxed);
  if (finished_reason == "error") errors_.fetch_add(1, std::memory_order_relaxed);
  key_prompt_tokens_.with({key}).inc(prompt_tokens);
  key_generation_tokens_.with({key}).inc(completion_tokens);
}

void ServingMetrics::record_request_rejected(const std::string& key, const std::string& reason) {
  request_rejected_.with({model_name_, reason}).inc();
  requests_.fetch_add(1, std::memory_order_relaxed);
  if (reason == request_error::kOverloaded || reason == request_error::kUnavailable)
    errors_.fetch_add(1, std::memory_order_relaxed);
  key_prompt_tokens_.with({key});  // the key's series exist from its first request
}

void ServingMetrics::record_http_response(const std::string& route, int status,
                                          const std::string& key) {
  http_requests_.with({route, std::to_string(status)}).inc();
  if (!key.empty()) key_requests_.with({key, std::to_string(status)}).inc();
}

ServiceLevelCounts ServingMetrics::service_level_counts() const {
  ServiceLevelCounts counts;
  counts.time_to_first_token = {time_to_first_token_.bounds(),
                                time_to_first_token_.cumulative_counts()};
  counts.inter_token_latency = {inter_token_latency_.bounds(),
                                inter_token_latency_.cumulative_counts()};
  counts.requests = requests_.load(std::memory_order_relaxed);
  counts.errors = errors_.load(std::memory_order_relaxed);
  return counts;
}

void ServingMetrics::set_open_connections(int open) {
  open_connections_.set(open);
}

std::string ServingMetrics::render() {
  const ProcessSample process = sample_process();
  if (process.resident_bytes >= 0)
    resident_memory_.set(static_cast<double>(process.resident_bytes));
  if (process.open_fds >= 0) open_fds_.set(process.open_fds);
  return registry_.render();
}

}  // namespace troupe::metrics
