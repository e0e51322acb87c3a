#pragma once
// The health monitor: takes every replica's statistics (after each step, and on the scheduler's
// heartbeat) and the supervisors' worker reports, and keeps the node's liveness and readiness.
// Ready means admitting: not draining, and some replica has a worker and reported within
// `stale_after`. Subscribers (the front watcher for /health) get a HealthReport whenever
// readiness, draining or the restart count changes.
#include <chrono>

#include "actors/messages.hpp"

namespace troupe {

struct HealthMonitorSetup {
  std::chrono::milliseconds stale_after{10000};  // a replica silent this long is not ready
};

// Speaks: wire::ReplicaStats; WorkerStatus; (drain_atom); (subscribe_atom) -> HealthReport;
// (health_atom) -> HealthReport.
caf::actor spawn_health_monitor(caf::actor_system& system, HealthMonitorSetup setup = {});

}  // namespace troupe
