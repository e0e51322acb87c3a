#include "autoscale/policy.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace troupe::autoscale {
namespace {

struct Vote {
  int32_t desired = 0;
  std::string rule;
  std::string reason;
  bool panic = false;  // the short window's vote: it passes the up cooldown
};

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", value);
  return text;
}

std::string seconds(Milliseconds duration) {
  return number(duration.count() / 1000.0) + " s";
}

double seconds_between(TimePoint earlier, TimePoint later) {
  return std::chrono::duration<double>(later - earlier).count();
}

int32_t ready_count(const ClusterSample& sample) {
  int32_t ready = 0;
  for (const NodeSample& node : sample.nodes) ready += node.ready ? 1 : 0;
  return ready;
}

struct Capacity {
  int32_t ready = 0;
  int32_t starting = 0;
  int32_t stuck = 0;
  int32_t current() const { return ready + starting; }
};

Capacity capacity_of(const ClusterSample& newest, Milliseconds ready_timeout) {
  Capacity c;
  c.ready = ready_count(newest);
  for (TimePoint asked : newest.starting) {
    if (newest.at - asked < ready_timeout)
      ++c.starting;
    else
      ++c.stuck;
  }
  return c;
}

// The samples since the ready replicas last changed in number. Latencies and error rates are
// measured from there: a window reaching back before a scale event would still see the old
// capacity's latency and ask again for what was just added (per-replica loads need no such
// cut: each sample divides by the replicas ready at its time).
std::span<const ClusterSample> since_capacity_changed(std::span<const ClusterSample> samples) {
  size_t first = samples.size() - 1;
  const int32_t ready = ready_count(samples.back());
  while (first > 0 && ready_count(samples[first - 1]) == ready) --first;
  return samples.subspan(first);
}

// The samples a metric is measured over.
std::span<const ClusterSample> samples_for(std::span<const ClusterSample> samples, Metric metric) {
  return is_per_replica_load(metric) ? samples : since_capacity_changed(samples);
}

// The replicas that bring a value measured over `ready` replicas down to `target`, assuming it
// is proportional to the load per replica.
int32_t replicas_for(double value, int32_t ready, double target) {
  const double needed = std::ceil(value * ready / target - 1e-9);
  // A NaN (a sample from the wire) needs nothing; a huge value no more than an int holds (the
  // decision clamps it to max_replicas later): casting either is undefined.
  if (!(needed > 0)) return 0;
  return needed >= 1e9 ? 1000000000 : static_cast<int32_t>(needed);
}

// Where a value over its threshold comes from, for the reason: the node highest on it, when more
// than one node has data ("; highest on b: 812").
std::string highest_node(std::span<const ClusterSample> samples, Metric metric, Milliseconds over) {
  const std::vector<NodeValue> values = measure_per_node(samples, metric, over);
  if (values.size() < 2) return "";
  return "; highest on " + values.front().node + ": " + number(values.front().value);
}

std::optional<Vote> rule_vote(std::span<const ClusterSample> samples, const Rule& rule,
                              const Capacity& capacity) {
  const std::optional<double> value =
      measure(samples_for(samples, rule.metric), rule.metric, rule.window);
  if (!value || capacity.ready == 0) return std::nullopt;
  const int32_t n = capacity.current();
  // A per-replica load is measured over the ready replicas and spreads over every replica;
  // a latency or error rate is taken to grow with the load per replica the same way.
  const double load = *value * (is_per_replica_load(rule.metric) ? capacity.ready : n);
  const auto over = [&](int32_t replicas) { return load / replicas; };
  const std::string measured = std::string(metric_name(rule.metric)) + " " + number(*value);
  const std::string window = " over " + seconds(rule.window);
  if (*value > rule.scale_up_above) {
    const std::string above =
        measured + " > " + number(rule.scale_up_above) + window +
        highest_node(samples_for(samples, rule.metric), rule.metric, rule.window);
    if (!is_per_replica_load(rule.metric) && capacity.starting > 0)
      return Vote{
          n, rule.name,
          above + "; waiting for " + std::to_string(capacity.starting) + " starting replica(s)"};
    if (over(n) <= rule.scale_up_above)
      return Vote{n, rule.name,
                  above + "; the " + std::to_string(capacity.starting) +
                      " starting replica(s) will take it"};
    return Vote{n + rule.step_up, rule.name, above};
  }
  if (*value < rule.scale_down_below) {
    const std::string below = measured + " < " + number(rule.scale_down_below) + window;
    if (capacity.starting > 0)
      return Vote{n, rule.name, below + "; not while a replica is starting"};
    const int32_t fewer = n - rule.step_down;
    if (fewer < 1) return Vote{n, rule.name, below};
    if (over(fewer) >= rule.scale_up_above)
      return Vote{n, rule.name,
                  below + ", but over " + std::to_string(fewer) + " replica(s) it would be " +
                      number(over(fewer)) + " >= " + number(rule.scale_up_above)};
    return Vote{fewer, rule.name, below};
  }
  return Vote{n, rule.name,
              measured + " within [" + number(rule.scale_down_below) + ", " +
                  number(rule.scale_up_above) + "]" + window};
}

// The worst latency over its target (p90), or nothing without data.
std::optional<double> slo_ratio(std::span<const ClusterSample> samples, const SloTargets& slo,
                                Milliseconds over, std::string* which) {
  std::optional<double> worst;
  const auto consider = [&](Metric metric, double target) {
    if (target <= 0) return;
    const std::optional<double> value = measure(since_capacity_changed(samples), metric, over);
    if (!value) return;
    const double ratio = *value / target;
    if (!worst || ratio > *worst) {
      worst = ratio;
      if (which)
        *which = std::string(metric_name(metric)) + " " + number(*value) + " (target " +
                 number(target) + highest_node(since_capacity_changed(samples), metric, over) + ")";
    }
  };
  consider(Metric::ttft_p90_ms, slo.ttft_ms);
  consider(Metric::itl_p90_ms, slo.itl_ms);
  return worst;
}

std::optional<Vote> slo_vote(std::span<const ClusterSample> samples, const SloTargets& slo,
                             const Capacity& capacity) {
  std::string which;
  const std::optional<double> ratio = slo_ratio(samples, slo, slo.window, &which);
  if (!ratio || capacity.ready == 0) return std::nullopt;
  const int32_t n = capacity.current();
  const std::string measured = which + " over " + seconds(slo.window);
  if (*ratio > 1) {
    const int32_t needed = replicas_for(*ratio, capacity.ready, 1.0);
    if (needed <= n) return Vote{n, "slo", measured + "; the starting replica(s) will take it"};
    return Vote{needed, "slo", measured};
  }
  if (capacity.starting > 0 || n <= 1) return Vote{n, "slo", measured};
  const double projected = *ratio * n / (n - 1);
  if (projected < slo.scale_down_below)
    return Vote{n - 1, "slo",
                measured + "; over " + std::to_string(n - 1) + " replica(s) " + number(projected) +
                    " of the target"};
  return Vote{n, "slo", measured};
}

// Knative's panic: a value over the short window far above its threshold.
std::optional<Vote> panic_vote(std::span<const ClusterSample> samples, const PolicyConfig& config,
                               const Capacity& capacity) {
  if (capacity.ready == 0) return std::nullopt;
  std::optional<Vote> vote;
  const auto consider = [&](double value, double threshold, const std::string& rule,
                            const std::string& what) {
    if (threshold <= 0 || !(value >= config.panic_threshold * threshold)) return;  // NaN too
    const int32_t needed = replicas_for(value, capacity.ready, threshold);
    if (!vote || needed > vote->desired)
      vote = Vote{needed, rule,
                  "panic: " + what + " " + number(value) + " >= " + number(config.panic_threshold) +
                      " x " + number(threshold) + " over " + seconds(config.panic_window),
                  true};
  };
  for (const Rule& rule : config.rules)
    if (const auto value =
            measure(samples_for(samples, rule.metric), rule.metric, config.panic_window))
      consider(*value, rule.scale_up_above, rule.name, std::string(metric_name(rule.metric)));
  if (config.slo.enabled())
    if (const auto ratio = slo_ratio(samples, config.slo, config.panic_window, nullptr))
      consider(*ratio, 1.0, "slo", "latency / target");
  return vote;
}

Milliseconds stable_window(const PolicyConfig& config) {
  Milliseconds longest = config.slo.enabled() ? config.slo.window : Milliseconds{0};
  for (const Rule& rule : config.rules) longest = std::max(longest, rule.window);
  return longest;
}

int32_t scaled_in_period(const PolicyState& state, const PolicyConfig& config, TimePoint now,
                         bool up) {
  int32_t total = 0;
  for (const ScaleEvent& event : state.events) {
    if (now - event.at >= config.scale_period) continue;
    total += up ? std::max(0, event.to - event.from) : std::max(0, event.from - event.to);
  }
  return total;
}

}  // namespace

std::vector<Rule> default_rules() {
  return {
      {"queue", Metric::queue_per_replica, 1.0, 0.1, 1, 1, Milliseconds{30000}},
      {"batch", Metric::batch_occupancy, 0.75, 0.25, 1, 1, Milliseconds{30000}},
      {"kv_cache", Metric::kv_usage, 0.85, 0.3, 1, 1, Milliseconds{60000}},
  };
}

std::optional<std::string> check(const PolicyConfig& config) {
  // Scale to zero would need a signal that exists with no replica (requests the front could not
  // route); the rules all measure replicas.
  if (config.min_replicas < 1) return "min replicas must be at least 1";
  if (config.max_replicas < 1) return "max replicas must be at least 1";
  if (config.min_replicas > config.max_replicas)
    return "min replicas (" + std::to_string(config.min_replicas) + ") is above max replicas (" +
           std::to_string(config.max_replicas) + ")";
  if (config.rules.empty() && !config.slo.enabled())
    return "no rule and no SLO target: nothing to scale on";
  for (const Rule& rule : config.rules) {
    const std::string named = "rule '" + rule.name + "'";
    if (rule.name.empty()) return "a rule has no name";
    if (!(rule.scale_down_below < rule.scale_up_above))
      return named +
             ": scale_down_below must be under scale_up_above (the band between them "
             "keeps it from flapping)";
    if (!(rule.scale_up_above > 0)) return named + ": scale_up_above must be positive";
    if (rule.step_up < 1 || rule.step_down < 1) return named + ": steps must be at least 1";
    if (rule.window.count() <= 0) return named + ": the window must be positive";
  }
  if (config.slo.ttft_ms < 0 || config.slo.itl_ms < 0) return "SLO targets must be positive";
  if (!(config.slo.scale_down_below > 0 && config.slo.scale_down_below < 1))
    return "the SLO scale-down band must be between 0 and 1";
  if (!(config.panic_threshold > 1)) return "the panic threshold must be above 1";
  if (config.max_scale_up_per_period < 1 || config.max_scale_down_per_period < 1)
    return "step limits must be at least 1";
  return std::nullopt;
}

Decision decide(std::span<const ClusterSample> samples, const PolicyConfig& config,
                const PolicyState& state) {
  Decision d;
  if (samples.empty()) return d;
  const ClusterSample& newest = samples.back();
  const TimePoint now = newest.at;
  const Capacity capacity = capacity_of(newest, config.ready_timeout);
  d.at = now;
  d.ready = capacity.ready;
  d.starting = capacity.starting;
  d.stuck = capacity.stuck;
  d.current = capacity.current();

  std::vector<Vote> votes;
  for (const Rule& rule : config.rules)
    if (auto vote = rule_vote(samples, rule, capacity)) votes.push_back(std::move(*vote));
  if (config.slo.enabled())
    if (auto vote = slo_vote(samples, config.slo, capacity)) votes.push_back(std::move(*vote));
  const std::optional<Vote> panic = panic_vote(samples, config, capacity);
  d.panic = panic.has_value();
  if (panic && panic->desired > d.current) votes.push_back(*panic);

  Vote winner{d.current, "", "no rule has data yet"};
  if (!votes.empty()) {
    winner = votes.front();
    for (const Vote& vote : votes)
      if (vote.desired > winner.desired) winner = vote;
  }
  int32_t desired = winner.desired;
  d.rule = winner.rule;
  d.reason = winner.reason;
  if (capacity.stuck > 0)
    d.reason += "; " + std::to_string(capacity.stuck) + " replica(s) not ready after " +
                seconds(config.ready_timeout) + " are not counted";

  // Bounds first: outside them the cluster moves at once, whatever the cooldowns say.
  if (d.current < config.min_replicas || d.current > config.max_replicas) {
    if (d.current < config.min_replicas) {
      d.desired = std::clamp(desired, config.min_replicas, config.max_replicas);
      d.rule = "min_replicas";
      d.reason = std::to_string(d.current) + " replica(s), under the minimum " +
                 std::to_string(config.min_replicas);
    } else {
      d.desired = std::clamp(desired, config.min_replicas, config.max_replicas);
      d.rule = "max_replicas";
      d.reason = std::to_string(d.current) + " replica(s), over the maximum " +
                 std::to_string(config.max_replicas);
    }
    return d;
  }
  if (desired > config.max_replicas) {
    desired = config.max_replicas;
    d.reason += "; capped at max " + std::to_string(config.max_replicas);
  }
  if (desired < config.min_replicas) {
    desired = config.min_replicas;
    d.reason += "; held at min " + std::to_string(config.min_replicas);
  }

  const auto hold = [&](const std::string& why) {
    d.reason += "; held: " + why;
    desired = d.current;
  };
  if (desired > d.current) {
    if (state.last_scale_up && now - *state.last_scale_up < config.scale_up_cooldown) {
      const std::string cooling = "scaled up " +
                                  number(seconds_between(*state.last_scale_up, now)) +
                                  " s ago, up cooldown " + seconds(config.scale_up_cooldown);
      // Panic passes the up cooldown as far as its own vote asks, whichever vote won (a
      // rule's vote tying with it, or asking for more, once held the whole step).
      if (panic && panic->desired > d.current) {
        if (desired > panic->desired) {
          desired = panic->desired;
          d.reason += "; up to the panic vote's " + std::to_string(desired) + " only: " + cooling;
        }
      } else {
        hold(cooling);
      }
    }
  } else if (desired < d.current) {
    if (d.panic || (state.last_panic && now - *state.last_panic < stable_window(config)))
      hold("in panic mode until a stable window passes without panic");
    // A fresh autoscaler (a front just started) has seen too little to shrink on.
    else if (now - samples.front().at < stable_window(config))
      hold("samples over " + number(seconds_between(samples.front().at, now)) +
           " s only; the stable window is " + seconds(stable_window(config)));
    else if (state.last_scale && now - *state.last_scale < config.scale_down_cooldown)
      hold("scaled " + number(seconds_between(*state.last_scale, now)) + " s ago, down cooldown " +
           seconds(config.scale_down_cooldown));
  }
  if (desired > d.current) {
    const int32_t allowed =
        config.max_scale_up_per_period - scaled_in_period(state, config, now, true);
    if (desired - d.current > allowed) {
      desired = d.current + std::max(0, allowed);
      d.reason += "; limited to " + std::to_string(config.max_scale_up_per_period) + " up per " +
                  seconds(config.scale_period);
    }
  } else if (desired < d.current) {
    const int32_t allowed =
        config.max_scale_down_per_period - scaled_in_period(state, config, now, false);
    if (d.current - desired > allowed) {
      desired = d.current - std::max(0, allowed);
      d.reason += "; limited to " + std::to_string(config.max_scale_down_per_period) +
                  " down per " + seconds(config.scale_period);
    }
  }
  d.desired = desired;
  return d;
}

PolicyState remember(PolicyState state, const Decision& decision, const PolicyConfig& config) {
  const TimePoint now = decision.at;
  std::erase_if(state.events,
                [&](const ScaleEvent& event) { return now - event.at >= config.scale_period; });
  if (decision.panic) state.last_panic = now;
  if (!decision.scales()) return state;
  state.events.push_back({now, decision.current, decision.desired});
  state.last_scale = now;
  if (decision.desired > decision.current) state.last_scale_up = now;
  return state;
}

}  // namespace troupe::autoscale
