#pragma once
// The root of a node's supervision tree: its health monitor and one supervisor per replica.
// Graceful drain starts here: (drain_atom) marks the node not ready, makes every scheduler refuse
// new requests with `draining`, and answers once all in-flight requests have finished or
// drain_timeout has passed, saying which.
#include <chrono>
#include <vector>

#include "actors/health_monitor.hpp"
#include "actors/supervisor.hpp"

namespace troupe {

struct NodeSetup {
  std::vector<ReplicaSetup> replicas;  // their health monitor is set by the node
  HealthMonitorSetup health;
  std::chrono::milliseconds drain_timeout{30000};  // --drain-timeout
};

// Speaks: (drain_atom) -> (drain_atom, bool finished_in_time); (health_atom) -> HealthReport;
// (subscribe_atom) -> HealthReport, then one per change (from its health monitor);
// (scheduler_atom) -> a replica's scheduler. An exit message stops the whole tree.
caf::actor spawn_node(caf::actor_system& system, NodeSetup setup);

}  // namespace troupe
