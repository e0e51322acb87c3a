#include "net/metrics/latency_counts.hpp"

#include <algorithm>
#include <cmath>

#include "engine/serve/generate_request.hpp"

namespace troupe::metrics {

const std::vector<double> kTimeToFirstTokenBounds = {
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,   0.75,
    1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
const std::vector<double> kInterTokenBounds = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,
                                               0.3,  0.4,   0.5,  0.75,  1.0, 2.5,  5.0,
                                               7.5,  10.0,  20.0, 40.0,  80.0};
const std::vector<double> kRequestLatencyBounds = {
    0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,   15.0,  20.0,
    30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};

size_t bucket_of(const std::vector<double>& bounds, double v) {
  if (std::isnan(v)) return bounds.size();
  return static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin());
}

wire::LatencyCounts empty_latency(const std::vector<double>& bounds) {
  return wire::LatencyCounts{bounds, std::vector<int64_t>(bounds.size() + 1, 0), 0.0};
}

void observe(wire::LatencyCounts& counts, double seconds) {
  if (counts.counts.size() != counts.bounds.size() + 1) return;  // not a histogram
  ++counts.counts[bucket_of(counts.bounds, seconds)];
  counts.sum += seconds;
}

void add(wire::LatencyCounts& into, const wire::LatencyCounts& more) {
  if (more.counts.size() != more.bounds.size() + 1) return;
  if (into.counts.empty()) into = empty_latency(more.bounds);
  if (into.bounds != more.bounds) return;
  for (size_t i = 0; i < more.counts.size(); ++i)
    into.counts[i] += std::max<int64_t>(0, more.counts[i]);
  into.sum += more.sum;
}

wire::ServedRequests no_requests_served() {
  return wire::ServedRequests{empty_latency(kTimeToFirstTokenBounds),
                              empty_latency(kInterTokenBounds), 0, 0};
}

void add(wire::ServedRequests& into, const wire::ServedRequests& more) {
  add(into.time_to_first_token, more.time_to_first_token);
  add(into.inter_token_latency, more.inter_token_latency);
  into.attempts += std::max<int64_t>(0, more.attempts);
  into.failed += std::max<int64_t>(0, more.failed);
}

bool is_server_failure(std::string_view error) {
  return !error.empty() && error != request_error::kInvalid &&
         error != request_error::kContextLength && error != request_error::kDraining;
}

}  // namespace troupe::metrics
