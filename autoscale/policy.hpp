#pragma once
// The autoscaling decision: a pure function from a window of cluster samples, the policy's
// configuration and what it decided before, to the replicas the cluster should have, the rule
// that decided and why. Time is the newest sample's; nothing here reads a clock.
//
// What it does, after the tutorial's rules and what Knative, the HPA, llm-d and Dynamo do:
// - Rules: a metric over its evaluation window, a band (scale up above, down below: the band
//   between is the hysteresis) and a step each way. Every rule votes; the vote asking for the
//   most replicas wins, so the cluster shrinks only when every rule with data agrees.
// - SLO mode: the replicas that bring p90 TTFT and ITL under their targets, assuming latency
//   grows with the load per replica; it scales down only while the latency projected over one
//   replica fewer stays under `scale_down_below` of the target.
// - Capacity on the way: replicas asked for and still starting count as replicas, so the load
//   is projected over them and nothing is asked twice while they warm up; one still not ready
//   after `ready_timeout` stops counting (it is reported stuck), so a replacement is asked for.
// - Safe scale-down: a rule votes down only if its per-replica load, spread over one step fewer
//   replicas, stays under its scale-up threshold (no flapping back up), and never while a
//   replica is starting.
// - Panic (Knative): a rule whose value over the short panic window reaches `panic_threshold`
//   times its scale-up threshold scales up at once to the replicas the load needs, past the
//   up cooldown; no scale-down until a stable window passed without panic.
// - Cooldowns: separate up and down (fast up, slow down; down counts from any scale event),
//   min/max replicas, and a step limit per period each way.
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "autoscale/cluster_sample.hpp"
#include "autoscale/window_metrics.hpp"

namespace troupe::autoscale {

struct Rule {
  std::string name;
  Metric metric = Metric::queue_per_replica;
  double scale_up_above = 0;
  double scale_down_below = 0;
  int32_t step_up = 1;
  int32_t step_down = 1;
  Milliseconds window{30000};  // the evaluation window: the stable window of this rule
};

// Latency targets (0 = not set): SLO mode is on when either is.
struct SloTargets {
  double ttft_ms = 0;
  double itl_ms = 0;
  // The band: shrink only while the latency projected over one replica fewer stays under this
  // share of the target. The projection takes latency as proportional to the load per replica,
  // which overstates it (a decode step has a fixed cost), so the band can sit close to 1.
  double scale_down_below = 0.9;
  Milliseconds window{30000};
  bool enabled() const { return ttft_ms > 0 || itl_ms > 0; }
};

struct PolicyConfig {
  int32_t min_replicas = 1;
  int32_t max_replicas = 1;
  std::vector<Rule> rules;
  SloTargets slo;
  Milliseconds panic_window{6000};
  double panic_threshold = 2.0;
  Milliseconds scale_up_cooldown{15000};
  Milliseconds scale_down_cooldown{120000};
  int32_t max_scale_up_per_period = 4;
  int32_t max_scale_down_per_period = 1;
  Milliseconds scale_period{60000};
  Milliseconds ready_timeout{300000};
};

// The rules a user of vLLM's metrics would start with: queue per replica, batch occupancy and
// KV use (compute utilisation is not among them: a continuous-batching worker is busy whenever
// it has one request, so it says little about headroom).
std::vector<Rule> default_rules();

// Why a configuration cannot work, or nothing.
std::optional<std::string> check(const PolicyConfig& config);

struct ScaleEvent {
  TimePoint at{};
  int32_t from = 0;
  int32_t to = 0;
};

// What the policy remembers between ticks (remember() updates it).
struct PolicyState {
  std::vector<ScaleEvent> events;  // within the last scale period (and the last one ever)
  std::optional<TimePoint> last_scale_up;
  std::optional<TimePoint> last_scale;  // up or down
  std::optional<TimePoint> last_panic;
};

struct Decision {
  TimePoint at{};
  int32_t ready = 0;     // ready replicas now
  int32_t starting = 0;  // asked for, not ready yet, within ready_timeout
  int32_t stuck = 0;     // asked for, not ready after ready_timeout: not counted
  int32_t current = 0;   // ready + starting
  int32_t desired = 0;   // what the cluster should have
  std::string rule;      // whose vote decided (to scale or to hold): a rule's name, "slo",
                         // "min_replicas", "max_replicas"; empty when no rule had data
  std::string reason;    // for the log, /metrics' events and `troupe status`
  bool panic = false;
  bool scales() const { return desired != current; }
};

Decision decide(std::span<const ClusterSample> samples, const PolicyConfig& config,
                const PolicyState& state);

// The state after acting on (or advising) `decision`.
PolicyState remember(PolicyState state, const Decision& decision, const PolicyConfig& config);

}  // namespace troupe::autoscale
