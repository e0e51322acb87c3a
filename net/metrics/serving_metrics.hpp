#pragma once
// The serving metrics that the HTTP front exposes on /metrics, named like vLLM's (so existing
// dashboards map over) with the prefix troupe_ instead of vllm: (we avoid colons, which
// Prometheus reserves for recording rules). Every series carries the served model's name,
// except the per-route HTTP counter. Methods are safe to call from any thread; the per-token
// ones touch only atomics.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "net/metrics/registry.hpp"

namespace troupe::metrics {

// A histogram's cumulative counts at one moment: one per bound, then +Inf.
struct HistogramCounts {
  std::vector<double> bounds;
  std::vector<uint64_t> cumulative;
};

// What an autoscaler reads each tick: the latency histograms and how many requests ended and
// failed on the server's side, all cumulative since the process started.
struct ServiceLevelCounts {
  HistogramCounts time_to_first_token;
  HistogramCounts inter_token_latency;
  int64_t requests = 0;  // ended or refused
  int64_t errors = 0;    // ended in an error, or refused as overloaded or unavailable
};

class ServingMetrics {
 public:
  explicit ServingMetrics(std::string model_name);

  // A replica's load as it reports it. prefix_queries and prefix_hits are cumulative since the
  // replica started: the counters add what they grew by since the last report; when they drop
  // (a replica restarted) the counters keep their value and count on from the new numbers.
  // The hit-rate gauge is prefix_hits / prefix_queries (0 before any query).
  // `preemptions` is cumulative too, and counted on the same way.
  void set_replica_load(int running, int waiting, double kv_usage, int64_t prefix_queries,
                        int64_t prefix_hits, int64_t preemptions);

  void observe_first_token(double seconds);
  void observe_inter_token(double seconds);  // per generated token after the first
  void observe_queue_time(double seconds);   // arrival at the engine to the first step
  // A request the engine ran: finished_reason stop, length, abort or error (all four exist
  // from the start at 0). `key` is the API key's name, for the per-key series.
  void record_request_end(const std::string& key, double e2e_seconds, int prompt_tokens,
                          int completion_tokens, const std::string& finished_reason);
  // A request refused before it ran (context_length, invalid, overloaded, draining,
  // unavailable): counted apart, not as a finished request. Its prompt, if computed, is billed.
  void record_request_rejected(const std::string& key, const std::string& reason);
  // Every HTTP answer, the transport's own (route "transport") included: one per request,
  // with the status the client was left with (499 when it went away first).
  void record_http_response(const std::string& route, int status, const std::string& key);
  void set_open_connections(int open);

  ServiceLevelCounts service_level_counts() const;

  // Reads the process's resident memory and open descriptors, then renders every series.
  std::string render();

 private:
  std::string model_name_;
  MetricsRegistry registry_;

  Gauge& requests_running_;
  Gauge& requests_waiting_;
  Gauge& kv_cache_usage_;
  Gauge& prefix_cache_hit_rate_;
  Counter& prefix_cache_queries_;
  Counter& prefix_cache_hits_;
  Histogram& time_to_first_token_;
  Histogram& inter_token_latency_;
  Histogram& e2e_request_latency_;
  Histogram& queue_time_;
  Counter& preemptions_;
  Counter& prompt_tokens_;
  Counter& generation_tokens_;
  CounterFamily& request_success_;        // model_name, finished_reason
  CounterFamily& request_rejected_;       // model_name, reason
  CounterFamily& http_requests_;          // route, status
  CounterFamily& key_requests_;           // key, status
  CounterFamily& key_prompt_tokens_;      // key
  CounterFamily& key_generation_tokens_;  // key
  Gauge& open_connections_;
  Gauge& resident_memory_;
  Gauge& open_fds_;

  std::atomic<int64_t> requests_{0};
  std::atomic<int64_t> errors_{0};

  std::mutex prefix_mutex_;  // guards the last reported cumulative numbers
  int64_t last_prefix_queries_ = 0;
  int64_t last_prefix_hits_ = 0;
  int64_t last_preemptions_ = 0;
};

}  // namespace troupe::metrics
