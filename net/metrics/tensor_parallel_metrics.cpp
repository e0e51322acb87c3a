#include "net/metrics/tensor_parallel_metrics.hpp"

#include <algorithm>

namespace troupe::metrics {
namespace {

double count(int64_t n) {
  return static_cast<double>(std::max<int64_t>(0, n));
}
double seconds(double s) {
  return std::max(0.0, s);
}

}  // namespace

TensorParallelSeries::TensorParallelSeries(MetricsRegistry& registry, const std::string& prefix,
                                           const std::string& scope)
    : size_(registry.gauge(prefix + "size", "Ranks of the tensor-parallel group.", {scope})),
      steps_(registry.counter(prefix + "steps_total", "Forward passes the rank ran.",
                              {scope, "rank"})),
      step_seconds_(registry.counter(prefix + "step_seconds_total",
                                     "Time the rank spent in forward passes, its collectives "
                                     "included.",
                                     {scope, "rank"})),
      all_reduces_(registry.counter(prefix + "all_reduces_total",
                                    "All-reduces the rank took part in (two per layer and step).",
                                    {scope, "rank"})),
      all_gathers_(registry.counter(prefix + "all_gathers_total",
                                    "All-gathers the rank took part in (the logits, once a step).",
                                    {scope, "rank"})),
      collective_seconds_(registry.counter(prefix + "collective_seconds_total",
                                           "Time the rank's forward passes spent in their "
                                           "collectives, waiting for the other ranks included.",
                                           {scope, "rank"})) {}

void TensorParallelSeries::add(const std::string& scope_value,
                               const std::vector<parallel::RankStats>& ranks) {
  if (ranks.empty()) return;
  size_.with({scope_value}).set(static_cast<double>(ranks.size()));
  for (const parallel::RankStats& r : ranks) {
    const LabelValues labels{scope_value, std::to_string(r.rank)};
    steps_.with(labels).inc(count(r.steps));
    step_seconds_.with(labels).inc(seconds(r.step_seconds));
    all_reduces_.with(labels).inc(count(r.collectives.all_reduces));
    all_gathers_.with(labels).inc(count(r.collectives.all_gathers));
    collective_seconds_.with(labels).inc(seconds(r.step_collective_seconds));
  }
}

std::string render_tensor_parallel_metrics(const std::vector<wire::ReplicaStats>& replicas) {
  const bool any = std::any_of(replicas.begin(), replicas.end(), [](const wire::ReplicaStats& r) {
    return !r.tensor_parallel_ranks.empty();
  });
  if (!any) return {};
  MetricsRegistry registry;
  TensorParallelSeries series(registry, "troupe_tensor_parallel_", "replica");
  for (const wire::ReplicaStats& r : replicas) series.add(r.replica, r.tensor_parallel_ranks);
  return registry.render();
}

}  // namespace troupe::metrics
