#include "net/metrics/cluster_metrics.hpp"

#include "net/metrics/latency_counts.hpp"
#include "net/metrics/registry.hpp"
#include "net/metrics/tensor_parallel_metrics.hpp"

namespace troupe::metrics {
namespace {

void render_nodes(MetricsRegistry& registry, const wire::ClusterStatus& status) {
  auto& routable = registry.gauge("troupe_node_routable",
                                  "1 while the router sends the node requests.", {"node"});
  auto& running = registry.gauge("troupe_node_num_requests_running",
                                 "Sequences in the node's batches.", {"node"});
  auto& waiting = registry.gauge("troupe_node_num_requests_waiting",
                                 "Requests in the node's queues.", {"node"});
  auto& outstanding = registry.gauge("troupe_node_requests_outstanding",
                                     "Requests routed to the node that have not ended.", {"node"});
  auto& kv = registry.gauge("troupe_node_kv_cache_usage_perc", "The node's KV cache in use, 0..1.",
                            {"node"});
  auto& busy = registry.counter(
      "troupe_node_busy_seconds_total",
      "Time the node's workers spent computing; its rate is the compute utilisation.", {"node"});
  auto& queue =
      registry.counter("troupe_node_queue_time_seconds_total",
                       "Time requests waited from arrival to their first step.", {"node"});
  auto& queued =
      registry.counter("troupe_node_queued_requests_total",
                       "Requests counted in troupe_node_queue_time_seconds_total.", {"node"});
  auto& preemptions = registry.counter("troupe_node_num_preemptions_total",
                                       "Sequences the node preempted.", {"node"});
  auto& routed = registry.counter("troupe_node_routed_requests_total",
                                  "Requests the router sent the node.", {"node"});
  // What the front measured of the attempts each node served (cumulative since the front first
  // saw the name, so a node's restart is no reset).
  auto& ttft = registry.histogram(
      "troupe_node_time_to_first_token_seconds",
      "Time from the route to the attempt's first token, as the front saw it, in seconds.",
      {"node"}, kTimeToFirstTokenBounds);
  auto& itl =
      registry.histogram("troupe_node_inter_token_latency_seconds",
                         "Time between consecutive chunks, as the front saw it, in seconds.",
                         {"node"}, kInterTokenBounds);
  auto& attempts = registry.counter("troupe_node_request_attempts_total",
                                    "Request attempts that ended on the node.", {"node"});
  auto& failures =
      registry.counter("troupe_node_request_failures_total",
                       "Request attempts that failed on the server's side there.", {"node"});
  TensorParallelSeries tensor_parallel(registry, "troupe_node_tensor_parallel_", "node");
  for (const wire::NodeStatus& node : status.nodes) {
    const LabelValues name{node.name};
    tensor_parallel.add(node.name, node.tensor_parallel_ranks);
    routable.with(name).set(node.routable ? 1 : 0);
    running.with(name).set(node.running);
    waiting.with(name).set(node.waiting);
    outstanding.with(name).set(node.outstanding);
    kv.with(name).set(node.kv_usage);
    // Cumulative per node process: a restarted node starts again from 0, which Prometheus's
    // rate() reads as a counter reset.
    busy.with(name).inc(std::max(0.0, node.busy_seconds));
    queue.with(name).inc(std::max(0.0, node.queue_seconds));
    queued.with(name).inc(double(std::max<int64_t>(0, node.queued_requests)));
    preemptions.with(name).inc(double(std::max<int64_t>(0, node.preemptions)));
    routed.with(name).inc(double(std::max<int64_t>(0, node.routed)));
    ttft.with(name).add(node.served.time_to_first_token);
    itl.with(name).add(node.served.inter_token_latency);
    attempts.with(name).inc(double(std::max<int64_t>(0, node.served.attempts)));
    failures.with(name).inc(double(std::max<int64_t>(0, node.served.failed)));
  }
}

void render_autoscaler(MetricsRegistry& registry, const wire::AutoscalerStatus& a) {
  registry
      .gauge("troupe_autoscaler_desired_replicas",
             "The replicas the autoscaler's last decision wants.")
      .with({})
      .set(a.desired);
  auto& replicas = registry.gauge("troupe_autoscaler_replicas",
                                  "Replicas as the autoscaler counts them.", {"state"});
  replicas.with({"ready"}).set(a.ready);
  replicas.with({"starting"}).set(a.starting);
  replicas.with({"stuck"}).set(a.stuck);
  registry.gauge("troupe_autoscaler_min_replicas", "The autoscaler's lower bound.")
      .with({})
      .set(a.min_replicas);
  registry.gauge("troupe_autoscaler_max_replicas", "The autoscaler's upper bound.")
      .with({})
      .set(a.max_replicas);
  registry.gauge("troupe_autoscaler_panic", "1 while a rule is in panic (the short window).")
      .with({})
      .set(a.panic ? 1 : 0);
  registry.gauge("troupe_autoscaler_advisory", "1 when the autoscaler advises and does not act.")
      .with({})
      .set(a.advisory ? 1 : 0);
  registry
      .gauge("troupe_autoscaler_decision_rule",
             "1 for the rule whose vote decided the last tick (to scale or to hold).", {"rule"})
      .with({a.rule.empty() ? "none" : a.rule})
      .set(1);
  auto& events = registry.counter("troupe_autoscaler_scale_events_total",
                                  "Decisions to change the replica count.", {"direction"});
  events.with({"up"}).inc(double(std::max<int64_t>(0, a.scale_ups)));
  events.with({"down"}).inc(double(std::max<int64_t>(0, a.scale_downs)));
}

}  // namespace

std::string render_cluster_metrics(const wire::ClusterStatus& status) {
  if (status.nodes.empty() && status.autoscaler.mode.empty()) return {};
  MetricsRegistry registry;
  render_nodes(registry, status);
  int ready = 0;
  for (const wire::NodeStatus& node : status.nodes) ready += node.routable ? 1 : 0;
  registry.gauge("troupe_cluster_replicas_ready", "Nodes the router sends requests to.")
      .with({})
      .set(ready);
  if (!status.autoscaler.mode.empty()) render_autoscaler(registry, status.autoscaler);
  return registry.render();
}

}  // namespace troupe::metrics
