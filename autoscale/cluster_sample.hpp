#pragma once
// What the autoscaler sees of the cluster at one tick, as plain data: each node's load as the
// router last heard it and the latency and failures the front measured on it, the front's
// latency histograms and request counters (cumulative, as
// /metrics exports them), and the replicas an actuator has asked for that are not ready yet.
// actors/autoscaler builds one per tick; the policy (autoscale/policy.hpp) decides over a
// window of them.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "net/metrics/serving_metrics.hpp"
#include "net/wire/messages.hpp"

namespace troupe::autoscale {

using TimePoint = std::chrono::steady_clock::time_point;
using Milliseconds = std::chrono::milliseconds;

// A cumulative histogram, Prometheus style: counts[i] observations fell at or under
// upper_bounds[i] and above the bound before; counts has one more entry, for +Inf.
struct LatencyHistogram {
  std::vector<double> upper_bounds;  // seconds, ascending
  std::vector<uint64_t> counts;
};

struct NodeSample {
  std::string name;
  bool ready = false;       // routable: connected, answering its health polls, not draining
  int32_t running = 0;      // sequences in its batch
  int32_t waiting = 0;      // requests in its queue
  int32_t capacity = 0;     // sequences it runs at once (--max-num-seqs); 0 = unknown
  double kv_usage = 0;      // KV cache in use, 0..1
  double busy_seconds = 0;  // time its workers spent computing, in all: utilisation is its rate
  // What the front measured of the attempts the node served, in all.
  LatencyHistogram time_to_first_token;
  LatencyHistogram inter_token_latency;
  int64_t attempts = 0;  // attempts that ended there
  int64_t failed = 0;    // of which failed on the server's side
};

struct ClusterSample {
  TimePoint at{};
  std::vector<NodeSample> nodes;
  LatencyHistogram time_to_first_token;
  LatencyHistogram inter_token_latency;
  int64_t requests = 0;  // requests that ended, in all
  int64_t errors = 0;    // of which failed on the server's side (5xx), in all
  // Replicas the actuator asked for that the router does not route to: since when each has been
  // missing (asked for and not ready yet, or ready once and not any more).
  std::vector<TimePoint> starting;
};

// A sample from what the front has: the router's view of the nodes, the front's own latency
// histograms and request counts, and the actuator's replicas on their way.
ClusterSample sample_of(const wire::ClusterStatus& cluster,
                        const metrics::ServiceLevelCounts& service, std::vector<TimePoint> starting,
                        TimePoint now);

}  // namespace troupe::autoscale
