#pragma once
// A cluster simulated tick by tick for the autoscaling policy's tests: a demand of concurrent
// streams spread evenly over the ready replicas, replicas that become ready a warm-up after
// they are asked for (or never), and latencies that grow with the load per replica. Every tick
// makes one sample, asks the policy, and applies its decision as an actuator would.
#include <algorithm>
#include <cmath>
#include <deque>
#include <vector>

#include "autoscale/policy.hpp"

namespace troupe::autoscale::testing {

using namespace std::chrono_literals;

// Fine buckets (1 ms to 1 s, then coarser), so a quantile interpolates close to the value.
inline std::vector<double> fine_bounds() {
  std::vector<double> bounds;
  for (int ms = 1; ms <= 1000; ++ms) bounds.push_back(ms / 1000.0);
  for (double s = 2; s <= 60; s += 1) bounds.push_back(s);
  return bounds;
}

inline void observe(LatencyHistogram& histogram, double seconds, uint64_t count) {
  const auto it =
      std::lower_bound(histogram.upper_bounds.begin(), histogram.upper_bounds.end(), seconds);
  histogram.counts[size_t(it - histogram.upper_bounds.begin())] += count;
}

struct LatencyModel {
  // Per replica: `running` sequences in the batch, `waiting` in its queue, `capacity` its batch.
  double itl_seconds(double running) const { return 0.010 * (1 + running / 4); }
  double ttft_seconds(double running, double waiting, double capacity) const {
    return 0.05 + 0.005 * running + 2.0 * waiting / capacity;
  }
};

class ClusterSimulation {
 public:
  ClusterSimulation(PolicyConfig config, int32_t ready, int32_t capacity = 8)
      : config_(std::move(config)), capacity_(capacity) {
    ttft_.upper_bounds = itl_.upper_bounds = fine_bounds();
    ttft_.counts.assign(ttft_.upper_bounds.size() + 1, 0);
    itl_.counts.assign(itl_.upper_bounds.size() + 1, 0);
    for (int32_t i = 0; i < ready; ++i) ready_.push_back(next_name());
  }

  Milliseconds warmup = 20s;
  bool replicas_never_ready = false;
  LatencyModel latency;

  // One tick of `step` at `demand` concurrent streams; returns the policy's decision.
  const Decision& tick(double demand, Milliseconds step = 1s) {
    now_ += step;
    if (!replicas_never_ready) {
      while (!starting_.empty() && now_ - starting_.front() >= warmup) {
        starting_.erase(starting_.begin());
        ready_.push_back(next_name());
      }
    }
    record_sample(demand, step);
    decisions_.push_back(
        decide(std::vector<ClusterSample>(samples_.begin(), samples_.end()), config_, state_));
    const Decision& d = decisions_.back();
    state_ = remember(state_, d, config_);
    apply(d);
    return d;
  }

  void run(double demand, Milliseconds duration, Milliseconds step = 1s) {
    for (Milliseconds t{0}; t < duration; t += step) tick(demand, step);
  }

  int32_t ready() const { return int32_t(ready_.size()); }
  int32_t starting() const { return int32_t(starting_.size()); }
  int32_t replicas() const { return ready() + starting(); }
  const std::vector<Decision>& decisions() const { return decisions_; }
  TimePoint now() const { return now_; }

  // Decisions that changed the replica count.
  std::vector<Decision> scale_events() const {
    std::vector<Decision> events;
    for (const Decision& d : decisions_)
      if (d.scales()) events.push_back(d);
    return events;
  }
  // Times the direction of scaling reversed (up then down, or down then up).
  int reversals() const {
    int count = 0, last = 0;
    for (const Decision& d : scale_events()) {
      const int direction = d.desired > d.current ? 1 : -1;
      if (last != 0 && direction != last) ++count;
      last = direction;
    }
    return count;
  }

 private:
  std::string next_name() { return "r" + std::to_string(named_++); }

  void record_sample(double demand, Milliseconds step) {
    ClusterSample sample;
    sample.at = now_;
    sample.starting = starting_;
    const double per_replica = ready_.empty() ? 0 : demand / double(ready_.size());
    const double running = std::min(per_replica, double(capacity_));
    const double waiting = per_replica - running;
    busy_ += ready_.empty() ? 0 : std::chrono::duration<double>(step).count() * (running > 0);
    for (const std::string& name : ready_) {
      NodeSample node;
      node.name = name;
      node.ready = true;
      node.running = int32_t(std::lround(running));
      node.waiting = int32_t(std::lround(waiting));
      node.capacity = capacity_;
      node.kv_usage = std::min(1.0, per_replica / (2.0 * capacity_));
      node.busy_seconds = busy_;
      sample.nodes.push_back(node);
    }
    if (!ready_.empty() && demand > 0) {
      const double seconds = std::chrono::duration<double>(step).count();
      const uint64_t first_tokens = std::max<uint64_t>(1, uint64_t(demand * seconds / 4));
      observe(ttft_, latency.ttft_seconds(running, waiting, capacity_), first_tokens);
      observe(itl_, latency.itl_seconds(running), uint64_t(demand * seconds * 10));
      requests_ += int64_t(first_tokens);
    }
    sample.time_to_first_token = ttft_;
    sample.inter_token_latency = itl_;
    sample.requests = requests_;
    samples_.push_back(std::move(sample));
    while (samples_.size() > 200) samples_.pop_front();
  }

  void apply(const Decision& d) {
    for (int32_t i = d.current; i < d.desired; ++i) starting_.push_back(now_);
    for (int32_t i = d.desired; i < d.current; ++i) {
      if (!starting_.empty())
        starting_.pop_back();
      else if (!ready_.empty())
        ready_.pop_back();  // drained: leaves routing at once
    }
    // A stuck replica is given up on, as the actuator does.
    std::erase_if(starting_,
                  [&](TimePoint asked) { return now_ - asked >= config_.ready_timeout; });
  }

  PolicyConfig config_;
  int32_t capacity_;
  PolicyState state_;
  TimePoint now_{};
  std::vector<std::string> ready_;
  std::vector<TimePoint> starting_;
  int named_ = 0;
  double busy_ = 0;
  LatencyHistogram ttft_, itl_;
  int64_t requests_ = 0;
  std::deque<ClusterSample> samples_;
  std::vector<Decision> decisions_;
};

}  // namespace troupe::autoscale::testing
