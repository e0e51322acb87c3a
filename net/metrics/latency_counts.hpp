#pragma once
// Latency histograms as plain data (wire::LatencyCounts), on vLLM's bucket bounds: what the
// front measures per node (wire::ServedRequests) and adds up in the router, and what /metrics
// and the autoscaler read back. The registry's Histogram buckets the same way (bucket_of).
#include <cstddef>
#include <string_view>
#include <vector>

#include "net/wire/messages.hpp"

namespace troupe::metrics {

// vLLM's bucket bounds (seconds), so that latency dashboards compare like with like.
extern const std::vector<double> kTimeToFirstTokenBounds;
extern const std::vector<double> kInterTokenBounds;
extern const std::vector<double> kRequestLatencyBounds;

// The bucket a value falls in: the first bound >= v (le is inclusive), or bounds.size() for
// +Inf; NaN counts in +Inf, as Prometheus' own clients do.
size_t bucket_of(const std::vector<double>& bounds, double v);

wire::LatencyCounts empty_latency(const std::vector<double>& bounds);
void observe(wire::LatencyCounts& counts, double seconds);
// Adds `more` into `into`. An empty `into` takes more's bounds; counts over other bounds (a
// peer of another release) are not added, rather than put in the wrong buckets.
void add(wire::LatencyCounts& into, const wire::LatencyCounts& more);

// No attempts yet, on vLLM's TTFT and inter-token bounds.
wire::ServedRequests no_requests_served();
void add(wire::ServedRequests& into, const wire::ServedRequests& more);

// An attempt that ended with `error` (a request_error code) failed on the server's side: all
// but success and the client's own faults (an invalid request, a prompt too long) and a node's
// drain, which the front fails over. As the front's troupe_request_* counters count errors.
bool is_server_failure(std::string_view error);

}  // namespace troupe::metrics
