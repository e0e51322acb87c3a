#pragma once
// The series of tensor-parallel groups, per rank: forward passes, the time in them, and the
// collectives (all-reduces, gathers, their time). The all-reduces per step are
// rate(..._all_reduces_total) / rate(..._steps_total); a rank's step time is
// rate(..._step_seconds_total) / rate(..._steps_total), its communication share
// rate(..._collective_seconds_total) / rate(..._step_seconds_total). Totals since the group
// started: a restarted group starts again from 0, which rate() reads as a counter reset.
#include <string>
#include <vector>

#include "engine/parallel/communicator.hpp"
#include "net/metrics/registry.hpp"
#include "net/wire/messages.hpp"

namespace troupe::metrics {

// One family per series, named `prefix` + what it counts, labelled by `scope` (replica or node)
// and rank.
class TensorParallelSeries {
 public:
  TensorParallelSeries(MetricsRegistry& registry, const std::string& prefix,
                       const std::string& scope);
  // The ranks of one group (or of a node's groups, summed by rank).
  void add(const std::string& scope_value, const std::vector<parallel::RankStats>& ranks);

 private:
  GaugeFamily& size_;
  CounterFamily& steps_;
  CounterFamily& step_seconds_;
  CounterFamily& all_reduces_;
  CounterFamily& all_gathers_;
  CounterFamily& collective_seconds_;
};

// The Prometheus text of a node's own tensor-parallel replicas; empty when none has more than
// one rank.
std::string render_tensor_parallel_metrics(const std::vector<wire::ReplicaStats>& replicas);

}  // namespace troupe::metrics
