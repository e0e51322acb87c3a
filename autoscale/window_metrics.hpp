#pragma once
// The autoscaling metrics, each measured over a window of cluster samples ending at the newest.
// Per-replica load metrics (queue, batch occupancy, KV use, utilisation) are averages over the
// ready replicas: the cluster's load divided by its replicas, so a metric at n replicas
// predicts n·v/m at m replicas. Latency percentiles come from the histograms' increase over the
// window, as Prometheus's histogram_quantile over a rate does; the error rate likewise.
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "autoscale/cluster_sample.hpp"

namespace troupe::autoscale {

enum class Metric {
  queue_per_replica,    // waiting requests per ready replica
  running_per_replica,  // sequences in the batch per ready replica
  batch_occupancy,      // running / capacity, mean over ready replicas, 0..1
  kv_usage,             // KV cache in use, mean over ready replicas, 0..1
  utilisation,          // share of wall time the workers computed, mean over ready replicas
  ttft_p90_ms,
  ttft_p95_ms,
  itl_p90_ms,
  itl_p95_ms,
  error_rate,  // failed / ended requests, 0..1
};

// A per-replica load: spreading the same load over m replicas instead of n gives v·n/m.
bool is_per_replica_load(Metric metric);

std::string_view metric_name(Metric metric);
std::optional<Metric> parse_metric(std::string_view name);
// Every metric's name, comma-separated, for error messages.
std::string metric_names();

// The metric over the samples taken in (newest.at - over, newest.at], rates and histogram
// increases measured from the newest sample at or before the window's start (or the oldest
// sample). Empty when the window has no data: no ready replica, no request ended, one sample
// for a rate. `samples` are in time order.
std::optional<double> measure(std::span<const ClusterSample> samples, Metric metric,
                              Milliseconds over);

// The metric for each node in the newest sample, over the same window: its own load (averaged
// over the samples it was ready in), utilisation, or the latency and failures the front
// measured on it. Worst (highest) first; nodes without data for it are left out. It tells
// which node a cluster-wide value comes from.
struct NodeValue {
  std::string node;
  double value = 0;
};
std::vector<NodeValue> measure_per_node(std::span<const ClusterSample> samples, Metric metric,
                                        Milliseconds over);

// The q-quantile (0..1) of the observations between two cumulative histograms of the same
// buckets, interpolated linearly inside its bucket (0 as the first bucket's lower bound; the
// +Inf bucket answers its lower bound). Empty when nothing was observed between them.
std::optional<double> quantile_between(const LatencyHistogram& before,
                                       const LatencyHistogram& after, double q);

}  // namespace troupe::autoscale
