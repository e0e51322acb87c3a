#pragma once
// The autoscaler on the front: every tick it asks the router for the cluster, adds the front's
// latency histograms and the actuator's replicas on their way into a sample, runs the policy
// (autoscale/policy.hpp) over its window of samples, and tells the actuator; the replicas that
// leave are drained through the router. Each decision goes to the router, which shows it in
// GET /cluster, /metrics and `troupe status`. Advisory: decides, logs and reports, never acts.
// Detached: an actuator may block (processes, an API server).
#include <chrono>
#include <functional>
#include <memory>

#include "actors/messages.hpp"
#include "autoscale/actuators/actuator.hpp"
#include "autoscale/policy.hpp"
#include "net/metrics/serving_metrics.hpp"

namespace troupe {

struct AutoscalerSetup {
  autoscale::PolicyConfig policy;
  bool advisory = false;
  std::chrono::milliseconds tick{1000};
  std::shared_ptr<autoscale::Actuator> actuator;
  // The front's latency histograms and request counts, read each tick.
  std::function<metrics::ServiceLevelCounts()> service_levels;
  std::function<autoscale::TimePoint()> clock = std::chrono::steady_clock::now;
};

// Speaks: nothing from outside. Sends the router (status_atom) each tick, then
// (autoscale_atom, wire::AutoscalerStatus), and (drain_atom, name) for each replica that leaves.
caf::actor spawn_autoscaler(caf::actor_system& system, caf::actor router, AutoscalerSetup setup);

}  // namespace troupe
