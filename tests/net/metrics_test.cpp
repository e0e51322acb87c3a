#include <catch2/catch.hpp>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine/serve/generate_request.hpp"
#include "net/metrics/cluster_metrics.hpp"
#include "net/metrics/latency_counts.hpp"
#include "net/metrics/registry.hpp"
#include "net/metrics/serving_metrics.hpp"

using namespace troupe::metrics;
namespace wire = troupe::wire;

namespace {

// The value of one series (`name{labels}`) in rendered text; fails the test if it is missing.
double sample_value(const std::string& text, const std::string& series) {
  const std::string line_start = '\n' + series + ' ';
  const size_t at = ('\n' + text).find(line_start);  // the \n makes the first line match too
  INFO("series " << series << " in\n" << text);
  REQUIRE(at != std::string::npos);
  return std::stod(text.substr(at + line_start.size() - 1));
}

}  // namespace

TEST_CASE("counters render with HELP, TYPE and one sample per child, sorted by labels") {
  MetricsRegistry registry;
  auto& jobs = registry.counter("jobs_total", "Jobs done.", {"queue"});
  jobs.with({"b"}).inc();
  jobs.with({"a"}).inc();
  jobs.with({"a"}).inc(2.5);
  registry.counter("restarts_total", "Restarts.");
  CHECK(registry.render() ==
        "# HELP jobs_total Jobs done.\n"
        "# TYPE jobs_total counter\n"
        "jobs_total{queue=\"a\"} 3.5\n"
        "jobs_total{queue=\"b\"} 1\n"
        "# HELP restarts_total Restarts.\n"
        "# TYPE restarts_total counter\n"
        "restarts_total 0\n");
}

TEST_CASE("gauges render values Prometheus parses: integers without exponent, Inf and NaN") {
  MetricsRegistry registry;
  auto& g = registry.gauge("temperature_celsius", "Readings.", {"sensor"});
  g.with({"a"}).set(1234567);
  g.with({"b"}).set(-2.5);
  g.with({"c"}).set(0.1);
  g.with({"d"}).set(9007199254740992.0);  // 2^53, still exact
  g.with({"e"}).set(1e21);                // integral but beyond 2^53
  g.with({"f"}).set(std::numeric_limits<double>::infinity());
  g.with({"g"}).set(-std::numeric_limits<double>::infinity());
  g.with({"h"}).set(std::numeric_limits<double>::quiet_NaN());
  g.with({"i"}).set(-0.0);
  auto& up_down = g.with({"j"});
  up_down.inc(5);
  up_down.dec(2);
  up_down.inc();
  CHECK(registry.render() ==
        "# HELP temperature_celsius Readings.\n"
        "# TYPE temperature_celsius gauge\n"
        "temperature_celsius{sensor=\"a\"} 1234567\n"
        "temperature_celsius{sensor=\"b\"} -2.5\n"
        "temperature_celsius{sensor=\"c\"} 0.1\n"
        "temperature_celsius{sensor=\"d\"} 9007199254740992\n"
        "temperature_celsius{sensor=\"e\"} 1e+21\n"
        "temperature_celsius{sensor=\"f\"} +Inf\n"
        "temperature_celsius{sensor=\"g\"} -Inf\n"
        "temperature_celsius{sensor=\"h\"} NaN\n"
        "temperature_celsius{sensor=\"i\"} 0\n"
        "temperature_celsius{sensor=\"j\"} 4\n");
}

TEST_CASE("histograms render cumulative buckets with an inclusive le, +Inf, _sum and _count") {
  MetricsRegistry registry;
  auto& latency = registry.histogram("wait_seconds", "Waits.", {"queue", "kind"}, {0.25, 1, 10})
                      .with({"q", "k"});
  for (double v : {0.25, 0.5, 1.0, 4.0, 20.0}) latency.observe(v);
  registry.histogram("empty_seconds", "Nothing observed.", {}, {1});
  CHECK(registry.render() ==
        "# HELP wait_seconds Waits.\n"
        "# TYPE wait_seconds histogram\n"
        "wait_seconds_bucket{queue=\"q\",kind=\"k\",le=\"0.25\"} 1\n"
        "wait_seconds_bucket{queue=\"q\",kind=\"k\",le=\"1\"} 3\n"
        "wait_seconds_bucket{queue=\"q\",kind=\"k\",le=\"10\"} 4\n"
        "wait_seconds_bucket{queue=\"q\",kind=\"k\",le=\"+Inf\"} 5\n"
        "wait_seconds_sum{queue=\"q\",kind=\"k\"} 25.75\n"
        "wait_seconds_count{queue=\"q\",kind=\"k\"} 5\n"
        "# HELP empty_seconds Nothing observed.\n"
        "# TYPE empty_seconds histogram\n"
        "empty_seconds_bucket{le=\"1\"} 0\n"
        "empty_seconds_bucket{le=\"+Inf\"} 0\n"
        "empty_seconds_sum 0\n"
        "empty_seconds_count 0\n");
  CHECK(latency.cumulative_counts() == std::vector<uint64_t>{1, 3, 4, 5});
}

TEST_CASE("a histogram adds counts made elsewhere over its own bounds, and only those") {
  MetricsRegistry registry;
  auto& latency = registry.histogram("wait_seconds", "Waits.", {}, {0.25, 1}).with({});
  wire::LatencyCounts counts = empty_latency({0.25, 1});
  for (double v : {0.1, 0.5, 0.5, 3.0}) observe(counts, v);
  CHECK(counts.counts == std::vector<int64_t>{1, 2, 1});
  latency.add(counts);
  latency.observe(0.2);
  CHECK(latency.cumulative_counts() == std::vector<uint64_t>{2, 4, 5});
  CHECK(latency.sum() == Approx(4.3));
  latency.add(empty_latency({0.5, 1}));  // other bounds: not added into the wrong buckets
  wire::LatencyCounts torn{{0.25, 1}, {1}, 1.0};
  latency.add(torn);  // counts that do not match its bounds: not added
  CHECK(latency.cumulative_counts() == std::vector<uint64_t>{2, 4, 5});
}

TEST_CASE("an attempt failed on the server's side unless it was the client's fault or a drain") {
  CHECK_FALSE(is_server_failure(""));
  CHECK_FALSE(is_server_failure(troupe::request_error::kInvalid));
  CHECK_FALSE(is_server_failure(troupe::request_error::kContextLength));
  CHECK_FALSE(is_server_failure(troupe::request_error::kDraining));
  CHECK(is_server_failure(troupe::request_error::kOverloaded));
  CHECK(is_server_failure(troupe::request_error::kTimeout));
  CHECK(is_server_failure(troupe::request_error::kWorkerFailed));
  CHECK(is_server_failure(troupe::request_error::kUnavailable));
}

TEST_CASE("the cluster's series carry each node's measured latency and failures") {
  wire::ClusterStatus status;
  status.nodes.push_back({.name = "a", .routable = true, .connected = true});
  status.nodes[0].served = no_requests_served();
  observe(status.nodes[0].served.time_to_first_token, 0.03);
  observe(status.nodes[0].served.inter_token_latency, 0.02);
  status.nodes[0].served.attempts = 2;
  status.nodes[0].served.failed = 1;
  const std::string text = render_cluster_metrics(status);
  CHECK(text.find("troupe_node_time_to_first_token_seconds_bucket{node=\"a\",le=\"0.02\"} 0\n") !=
        std::string::npos);
  CHECK(text.find("troupe_node_time_to_first_token_seconds_bucket{node=\"a\",le=\"0.04\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("troupe_node_time_to_first_token_seconds_sum{node=\"a\"} 0.03\n") !=
        std::string::npos);
  CHECK(text.find("troupe_node_inter_token_latency_seconds_count{node=\"a\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("troupe_node_request_attempts_total{node=\"a\"} 2\n") != std::string::npos);
  CHECK(text.find("troupe_node_request_failures_total{node=\"a\"} 1\n") != std::string::npos);
}

TEST_CASE("label values escape backslash, quote and newline; help escapes backslash, newline") {
  MetricsRegistry registry;
  registry.counter("paths_total", "Paths like C:\\dir, \"quoted\"\nsecond line.", {"path"})
      .with({"a\\b\"c\nd"})
      .inc();
  CHECK(registry.render() ==
        "# HELP paths_total Paths like C:\\\\dir, \"quoted\"\\nsecond line.\n"
        "# TYPE paths_total counter\n"
        "paths_total{path=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST_CASE("a labelled family with no children yet renders nothing") {
  MetricsRegistry registry;
  registry.counter("unused_total", "Never used.", {"x"});
  CHECK(registry.render().empty());
}

TEST_CASE("with() returns the same child for the same label values") {
  MetricsRegistry registry;
  auto& family = registry.gauge("g", "G.", {"a"});
  Gauge& first = family.with({"x"});
  family.with({"y"});  // creating another child must not move the first
  CHECK(&first == &family.with({"x"}));
}

TEST_CASE("updates from 4 threads at once sum exactly") {
  MetricsRegistry registry;
  auto& counters = registry.counter("hits_total", "Hits.", {"thread_group"});
  auto& gauge = registry.gauge("level", "Level.").with({});
  auto& histogram = registry.histogram("size_bytes", "Sizes.", {}, {1, 2}).with({});
  constexpr int kThreads = 4;
  constexpr int kIterations = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIterations; ++i) {
        counters.with({"shared"}).inc();  // also races the creation of the child
        counters.with({t % 2 == 0 ? "even" : "odd"}).inc(0.5);
        gauge.inc(2);
        gauge.dec();
        histogram.observe(i % 2 == 0 ? 1.5 : 0.5);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(counters.with({"shared"}).value() == kThreads * kIterations);
  CHECK(counters.with({"even"}).value() == kThreads / 2 * kIterations * 0.5);
  CHECK(gauge.value() == kThreads * kIterations);
  CHECK(histogram.count() == kThreads * kIterations);
  CHECK(histogram.cumulative_counts() == std::vector<uint64_t>{kThreads * kIterations / 2,
                                                               kThreads * kIterations,
                                                               kThreads * kIterations});
  CHECK(histogram.sum() == kThreads * kIterations);  // halves of 0.5 and 1.5
}

TEST_CASE("naming mistakes and impossible updates are bugs and throw") {
  MetricsRegistry registry;
  CHECK_THROWS_AS(registry.counter("requests", "No _total."), std::invalid_argument);
  CHECK_THROWS_AS(registry.counter("requests_total_x", "Suffix not last."), std::invalid_argument);
  CHECK_NOTHROW(registry.counter("requests_total", "Fine."));
  CHECK_THROWS_AS(registry.gauge("requests_total", "Taken."), std::invalid_argument);
  CHECK_THROWS_AS(registry.gauge("1st", "Starts with a digit."), std::invalid_argument);
  CHECK_THROWS_AS(registry.gauge("g", "Bad label.", {"a-b"}), std::invalid_argument);
  CHECK_THROWS_AS(registry.gauge("g", "Reserved label.", {"__name"}), std::invalid_argument);
  CHECK_THROWS_AS(registry.gauge("g", "Repeated label.", {"a", "a"}), std::invalid_argument);
  CHECK_THROWS_AS(registry.histogram("h", "le label.", {"le"}, {1}), std::invalid_argument);
  CHECK_THROWS_AS(registry.histogram("h", "Unsorted.", {}, {2, 1}), std::invalid_argument);
  CHECK_THROWS_AS(registry.histogram("h", "Repeated bound.", {}, {1, 1}), std::invalid_argument);
  CHECK_THROWS_AS(
      registry.histogram("h", "Inf bound.", {}, {1, std::numeric_limits<double>::infinity()}),
      std::invalid_argument);
  auto& labelled = registry.counter("labelled_total", "Two labels.", {"a", "b"});
  CHECK_THROWS_AS(labelled.with({"only one"}), std::invalid_argument);
  CHECK_THROWS_AS(labelled.with({"x", "y"}).inc(-1), std::invalid_argument);
  CHECK(labelled.with({"x", "y"}).value() == 0);
}

TEST_CASE("ServingMetrics renders every serving family with its data") {
  ServingMetrics metrics("tiny-llama");
  metrics.set_replica_load(3, 2, 0.25, 100, 40, 7);
  metrics.observe_first_token(0.03);
  metrics.observe_inter_token(0.02);
  metrics.observe_inter_token(0.04);
  metrics.observe_queue_time(0.5);
  metrics.record_request_end("team-a", 1.2, 17, 5, "stop");
  metrics.record_request_end("team-b", 0.4, 3, 16, "length");
  metrics.record_request_rejected("team-a", "context_length_exceeded");
  metrics.record_http_response("/v1/completions", 200, "team-a");
  metrics.record_http_response("/v1/completions", 200, "team-b");
  metrics.record_http_response("/v1/chat/completions", 400, "team-a");
  metrics.record_http_response("transport", 413, "");
  metrics.set_open_connections(4);
  const std::string text = metrics.render();

  const std::vector<std::pair<std::string, std::string>> families = {
      {"troupe_num_requests_running", "gauge"},
      {"troupe_num_requests_waiting", "gauge"},
      {"troupe_kv_cache_usage_perc", "gauge"},
      {"troupe_prefix_cache_hit_rate", "gauge"},
      {"troupe_prefix_cache_queries_total", "counter"},
      {"troupe_prefix_cache_hits_total", "counter"},
      {"troupe_time_to_first_token_seconds", "histogram"},
      {"troupe_inter_token_latency_seconds", "histogram"},
      {"troupe_e2e_request_latency_seconds", "histogram"},
      {"troupe_prompt_tokens_total", "counter"},
      {"troupe_generation_tokens_total", "counter"},
      {"troupe_request_success_total", "counter"},
      {"troupe_http_requests_total", "counter"},
      {"troupe_request_queue_time_seconds", "histogram"},
      {"troupe_num_preemptions_total", "counter"},
      {"troupe_request_rejected_total", "counter"},
      {"troupe_key_requests_total", "counter"},
      {"troupe_key_prompt_tokens_total", "counter"},
      {"troupe_key_generation_tokens_total", "counter"},
      {"troupe_http_open_connections", "gauge"},
      {"process_resident_memory_bytes", "gauge"},
      {"process_open_fds", "gauge"},
  };
  for (const auto& [name, type] : families) {
    INFO(name);
    CHECK(text.find("\n# TYPE " + name + ' ' + type + '\n') != std::string::npos);
  }
  const std::string model = "{model_name=\"tiny-llama\"}";
  CHECK(sample_value(text, "troupe_num_requests_running" + model) == 3);
  CHECK(sample_value(text, "troupe_num_requests_waiting" + model) == 2);
  CHECK(sample_value(text, "troupe_kv_cache_usage_perc" + model) == 0.25);
  CHECK(sample_value(text, "troupe_prefix_cache_hit_rate" + model) == 0.4);
  CHECK(sample_value(text, "troupe_prompt_tokens_total" + model) == 20);
  CHECK(sample_value(text, "troupe_generation_tokens_total" + model) == 21);
  CHECK(sample_value(text, "troupe_inter_token_latency_seconds_count" + model) == 2);
  CHECK(sample_value(
            text,
            "troupe_time_to_first_token_seconds_bucket{model_name=\"tiny-llama\",le=\"0.02\"}") ==
        0);
  CHECK(sample_value(
            text,
            "troupe_time_to_first_token_seconds_bucket{model_name=\"tiny-llama\",le=\"0.04\"}") ==
        1);
  CHECK(sample_value(text, "troupe_e2e_request_latency_seconds_sum" + model) == Approx(1.6));
  const std::string success = "troupe_request_success_total{model_name=\"tiny-llama\",";
  CHECK(sample_value(text, success + "finished_reason=\"stop\"}") == 1);
  CHECK(sample_value(text, success + "finished_reason=\"length\"}") == 1);
  CHECK(sample_value(text, success + "finished_reason=\"abort\"}") == 0);
  CHECK(sample_value(text,
                     "troupe_http_requests_total{route=\"/v1/completions\",status=\"200\"}") == 2);
  CHECK(sample_value(text,
                     "troupe_http_requests_total{route=\"/v1/chat/completions\",status=\"400\"}") ==
        1);
  CHECK(sample_value(text, "troupe_http_requests_total{route=\"transport\",status=\"413\"}") == 1);
  CHECK(sample_value(text, "troupe_num_preemptions_total" + model) == 7);
  CHECK(sample_value(text, "troupe_request_queue_time_seconds_count" + model) == 1);
  CHECK(sample_value(text,
                     "troupe_request_rejected_total{model_name=\"tiny-llama\","
                     "reason=\"context_length_exceeded\"}") == 1);
  CHECK(sample_value(text, "troupe_key_requests_total{key=\"team-a\",status=\"400\"}") == 1);
  CHECK(sample_value(text, "troupe_key_prompt_tokens_total{key=\"team-a\"}") == 17);
  CHECK(sample_value(text, "troupe_key_generation_tokens_total{key=\"team-b\"}") == 16);
  CHECK(sample_value(text, "troupe_http_open_connections") == 4);
  CHECK(sample_value(text, "process_resident_memory_bytes") > 1e6);
  CHECK(sample_value(text, "process_open_fds") >= 3);
}

TEST_CASE("ServingMetrics' prefix-cache counters follow cumulative reports and never decrease") {
  ServingMetrics metrics("m");
  const std::string queries = "troupe_prefix_cache_queries_total{model_name=\"m\"}";
  const std::string hits = "troupe_prefix_cache_hits_total{model_name=\"m\"}";
  struct Report {
    int64_t queries, hits;
    double expected_queries, expected_hits;
  };
  const std::vector<Report> reports = {
      {100, 40, 100, 40},  // first report: all of it
      {150, 90, 150, 90},  // grew by 50 and 50
      {150, 90, 150, 90},  // the same report again adds nothing
      {20, 5, 150, 90},    // the replica restarted: a new base, nothing subtracted
      {50, 25, 180, 110},  // grew by 30 and 20 since the restart
  };
  for (const auto& r : reports) {
    metrics.set_replica_load(1, 0, 0.5, r.queries, r.hits, 0);
    const std::string text = metrics.render();
    INFO("report " << r.queries << "/" << r.hits);
    CHECK(sample_value(text, queries) == r.expected_queries);
    CHECK(sample_value(text, hits) == r.expected_hits);
  }
  CHECK(sample_value(metrics.render(), "troupe_prefix_cache_hit_rate{model_name=\"m\"}") == 0.5);
}
