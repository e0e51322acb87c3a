#include "autoscale/cluster_sample.hpp"

namespace troupe::autoscale {
namespace {

// Prometheus's cumulative bucket counts into counts per bucket.
LatencyHistogram per_bucket(const metrics::HistogramCounts& counts) {
  LatencyHistogram histogram;
  histogram.upper_bounds = counts.bounds;
  histogram.counts.reserve(counts.cumulative.size());
  uint64_t below = 0;
  for (uint64_t cumulative : counts.cumulative) {
    histogram.counts.push_back(cumulative >= below ? cumulative - below : 0);
    below = std::max(below, cumulative);
  }
  return histogram;
}

LatencyHistogram histogram_of(const wire::LatencyCounts& counts) {
  LatencyHistogram histogram;
  if (counts.counts.size() != counts.bounds.size() + 1) return histogram;  // no histogram
  histogram.upper_bounds = counts.bounds;
  for (int64_t count : counts.counts)
    histogram.counts.push_back(uint64_t(std::max<int64_t>(0, count)));
  return histogram;
}

}  // namespace

ClusterSample sample_of(const wire::ClusterStatus& cluster,
                        const metrics::ServiceLevelCounts& service, std::vector<TimePoint> starting,
                        TimePoint now) {
  ClusterSample sample;
  sample.at = now;
  for (const wire::NodeStatus& node : cluster.nodes) {
    if (!node.connected) continue;  // gone: neither capacity nor load
    sample.nodes.push_back(NodeSample{
        node.name, node.routable, node.running, node.waiting, node.capacity, node.kv_usage,
        node.busy_seconds, histogram_of(node.served.time_to_first_token),
        histogram_of(node.served.inter_token_latency), node.served.attempts, node.served.failed});
  }
  sample.time_to_first_token = per_bucket(service.time_to_first_token);
  sample.inter_token_latency = per_bucket(service.inter_token_latency);
  sample.requests = service.requests;
  sample.errors = service.errors;
  sample.starting = std::move(starting);
  return sample;
}

}  // namespace troupe::autoscale
