#pragma once
// The cluster as a front's router sees it, on /metrics: each node's load (running, waiting, KV
// use, busy time whose rate is its compute utilisation, queue time, preemptions), the latency
// and failures the front measured on each (TTFT and inter-token histograms, attempts, failures),
// the cluster's replicas, and the autoscaler's decisions. Rendered from a wire::ClusterStatus each
// scrape, so nodes that left the cluster leave the page too.
#include <string>

#include "net/wire/messages.hpp"

namespace troupe::metrics {

// The Prometheus text of the cluster's series; empty for a status without nodes or autoscaler.
std::string render_cluster_metrics(const wire::ClusterStatus& status);

}  // namespace troupe::metrics
