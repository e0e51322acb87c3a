#include "autoscale/window_metrics.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <utility>

namespace troupe::autoscale {
namespace {

constexpr std::array<std::pair<Metric, std::string_view>, 10> kNames{{
    {Metric::queue_per_replica, "queue_per_replica"},
    {Metric::running_per_replica, "running_per_replica"},
    {Metric::batch_occupancy, "batch_occupancy"},
    {Metric::kv_usage, "kv_usage"},
    {Metric::utilisation, "utilisation"},
    {Metric::ttft_p90_ms, "ttft_p90_ms"},
    {Metric::ttft_p95_ms, "ttft_p95_ms"},
    {Metric::itl_p90_ms, "itl_p90_ms"},
    {Metric::itl_p95_ms, "itl_p95_ms"},
    {Metric::error_rate, "error_rate"},
}};

// The samples in the window, and the sample rates and increases are measured from.
struct WindowSpan {
  std::span<const ClusterSample> inside;
  const ClusterSample* base = nullptr;
};

WindowSpan window_of(std::span<const ClusterSample> samples, Milliseconds over) {
  if (samples.empty()) return {};
  const TimePoint start = samples.back().at - over;
  size_t first = samples.size() - 1;
  while (first > 0 && samples[first - 1].at > start) --first;
  const ClusterSample* base = first > 0 ? &samples[first - 1] : &samples[0];
  return {samples.subspan(first), base};
}

// The mean over ready replicas of one node figure, averaged over the window's samples.
template <class NodeValue>
std::optional<double> mean_over_ready(std::span<const ClusterSample> inside, NodeValue value) {
  double total = 0;
  int counted = 0;
  for (const ClusterSample& sample : inside) {
    double sum = 0;
    int ready = 0;
    for (const NodeSample& node : sample.nodes) {
      if (!node.ready) continue;
      sum += value(node);
      ++ready;
    }
    if (ready == 0) continue;
    total += sum / ready;
    ++counted;
  }
  if (counted == 0) return std::nullopt;
  return total / counted;
}

// Mean busy share of the replicas ready at both ends of each step between samples.
std::optional<double> utilisation(const WindowSpan& window) {
  double total = 0;
  int steps = 0;
  const ClusterSample* previous = window.base;
  for (const ClusterSample& sample : window.inside) {
    if (previous == &sample) continue;
    const double seconds = std::chrono::duration<double>(sample.at - previous->at).count();
    if (seconds > 0) {
      std::map<std::string_view, double> busy_before;
      for (const NodeSample& node : previous->nodes) busy_before[node.name] = node.busy_seconds;
      double sum = 0;
      int ready = 0;
      for (const NodeSample& node : sample.nodes) {
        auto it = busy_before.find(node.name);
        if (!node.ready || it == busy_before.end()) continue;
        sum += std::clamp((node.busy_seconds - it->second) / seconds, 0.0, 1.0);
        ++ready;
      }
      if (ready > 0) {
        total += sum / ready;
        ++steps;
      }
    }
    previous = &sample;
  }
  if (steps == 0) return std::nullopt;
  return total / steps;
}

std::optional<double> quantile_ms(const WindowSpan& window, LatencyHistogram ClusterSample::*field,
                                  double q) {
  const auto seconds = quantile_between(window.base->*field, window.inside.back().*field, q);
  if (!seconds) return std::nullopt;
  return *seconds * 1000.0;
}

double quantile_of(Metric metric) {
  return metric == Metric::ttft_p95_ms || metric == Metric::itl_p95_ms ? 0.95 : 0.90;
}

const NodeSample* node_named(const ClusterSample& sample, std::string_view name) {
  for (const NodeSample& node : sample.nodes)
    if (node.name == name) return &node;
  return nullptr;
}

// One node's figure for a metric over the window; `newest` is its entry in the newest sample
// and `base` its entry in the window's base sample, if it was there.
std::optional<double> node_measure(const WindowSpan& window, const NodeSample& newest,
                                   const NodeSample* base, Metric metric) {
  const NodeSample none;  // a node that joined inside the window: its counts start from zero
  const NodeSample& before = base ? *base : none;
  const auto load = [&](auto value) -> std::optional<double> {
    double sum = 0;
    int counted = 0;
    for (const ClusterSample& sample : window.inside) {
      const NodeSample* node = node_named(sample, newest.name);
      if (!node || !node->ready) continue;
      sum += value(*node);
      ++counted;
    }
    if (counted == 0) return std::nullopt;
    return sum / counted;
  };
  switch (metric) {
    case Metric::queue_per_replica:
      return load([](const NodeSample& n) { return double(n.waiting); });
    case Metric::running_per_replica:
      return load([](const NodeSample& n) { return double(n.running); });
    case Metric::batch_occupancy:
      return load([](const NodeSample& n) {
        return n.capacity > 0 ? std::min(1.0, double(n.running) / n.capacity) : 0.0;
      });
    case Metric::kv_usage:
      return load([](const NodeSample& n) { return n.kv_usage; });
    case Metric::utilisation: {
      const double seconds =
          std::chrono::duration<double>(window.inside.back().at - window.base->at).count();
      if (!base || seconds <= 0) return std::nullopt;
      return std::clamp((newest.busy_seconds - base->busy_seconds) / seconds, 0.0, 1.0);
    }
    case Metric::ttft_p90_ms:
    case Metric::ttft_p95_ms:
    case Metric::itl_p90_ms:
    case Metric::itl_p95_ms: {
      const bool ttft = metric == Metric::ttft_p90_ms || metric == Metric::ttft_p95_ms;
      const auto field = ttft ? &NodeSample::time_to_first_token : &NodeSample::inter_token_latency;
      const auto seconds = quantile_between(before.*field, newest.*field, quantile_of(metric));
      if (!seconds) return std::nullopt;
      return *seconds * 1000.0;
    }
    case Metric::error_rate: {
      const int64_t ended = newest.attempts - before.attempts;
      if (ended <= 0) return std::nullopt;
      return std::clamp(double(newest.failed - before.failed) / double(ended), 0.0, 1.0);
    }
  }
  return std::nullopt;
}

}  // namespace

std::vector<NodeValue> measure_per_node(std::span<const ClusterSample> samples, Metric metric,
                                        Milliseconds over) {
  const WindowSpan window = window_of(samples, over);
  std::vector<NodeValue> values;
  if (window.inside.empty()) return values;
  for (const NodeSample& node : window.inside.back().nodes) {
    const NodeSample* base = node_named(*window.base, node.name);
    if (auto value = node_measure(window, node, base, metric))
      values.push_back({node.name, *value});
  }
  std::stable_sort(values.begin(), values.end(),
                   [](const NodeValue& a, const NodeValue& b) { return a.value > b.value; });
  return values;
}

bool is_per_replica_load(Metric metric) {
  switch (metric) {
    case Metric::queue_per_replica:
    case Metric::running_per_replica:
    case Metric::batch_occupancy:
    case Metric::kv_usage:
    case Metric::utilisation:
      return true;
    default:
      return false;
  }
}

std::string_view metric_name(Metric metric) {
  for (const auto& [m, name] : kNames)
    if (m == metric) return name;
  return "?";
}

std::optional<Metric> parse_metric(std::string_view name) {
  for (const auto& [m, n] : kNames)
    if (n == name) return m;
  return std::nullopt;
}

std::string metric_names() {
  std::string names;
  for (const auto& [m, name] : kNames) {
    if (!names.empty()) names += ", ";
    names += name;
  }
  return names;
}

std::optional<double> quantile_between(const LatencyHistogram& before,
                                       const LatencyHistogram& after, double q) {
  const size_t buckets = after.counts.size();
  if (buckets == 0 || after.upper_bounds.size() + 1 != buckets) return std::nullopt;
  const bool same_buckets = before.counts.size() == buckets;
  std::vector<double> increase(buckets);
  double total = 0;
  for (size_t i = 0; i < buckets; ++i) {
    const uint64_t earlier = same_buckets ? before.counts[i] : 0;
    increase[i] = after.counts[i] >= earlier ? double(after.counts[i] - earlier) : 0.0;
    total += increase[i];
  }
  if (total <= 0) return std::nullopt;
  const double rank = std::clamp(q, 0.0, 1.0) * total;
  double below = 0;
  for (size_t i = 0; i < buckets; ++i) {
    if (below + increase[i] >= rank && increase[i] > 0) {
      const double lower = i == 0 ? 0.0 : after.upper_bounds[i - 1];
      if (i + 1 == buckets) return lower;  // +Inf: the most a histogram can say
      const double upper = after.upper_bounds[i];
      return lower + (upper - lower) * (rank - below) / increase[i];
    }
    below += increase[i];
  }
  return after.upper_bounds.empty() ? 0.0 : after.upper_bounds.back();
}

std::optional<double> measure(std::span<const ClusterSample> samples, Metric metric,
                              Milliseconds over) {
  const WindowSpan window = window_of(samples, over);
  if (window.inside.empty()) return std::nullopt;
  switch (metric) {
    case Metric::queue_per_replica:
      return mean_over_ready(window.inside, [](const NodeSample& n) { return double(n.waiting); });
    case Metric::running_per_replica:
      return mean_over_ready(window.inside, [](const NodeSample& n) { return double(n.running); });
    case Metric::batch_occupancy:
      return mean_over_ready(window.inside, [](const NodeSample& n) {
        return n.capacity > 0 ? std::min(1.0, double(n.running) / n.capacity) : 0.0;
      });
    case Metric::kv_usage:
      return mean_over_ready(window.inside, [](const NodeSample& n) { return n.kv_usage; });
    case Metric::utilisation:
      return utilisation(window);
    case Metric::ttft_p90_ms:
      return quantile_ms(window, &ClusterSample::time_to_first_token, 0.90);
    case Metric::ttft_p95_ms:
      return quantile_ms(window, &ClusterSample::time_to_first_token, 0.95);
    case Metric::itl_p90_ms:
      return quantile_ms(window, &ClusterSample::inter_token_latency, 0.90);
    case Metric::itl_p95_ms:
      return quantile_ms(window, &ClusterSample::inter_token_latency, 0.95);
    case Metric::error_rate: {
      const int64_t ended = window.inside.back().requests - window.base->requests;
      if (ended <= 0) return std::nullopt;
      const int64_t failed = window.inside.back().errors - window.base->errors;
      return std::clamp(double(failed) / double(ended), 0.0, 1.0);
    }
  }
  return std::nullopt;
}

}  // namespace troupe::autoscale
