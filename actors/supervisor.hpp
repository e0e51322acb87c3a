#pragma once
// A replica's supervisor: starts its scheduler and worker, monitors both, and restarts a crashed
// worker after an exponential backoff (the scheduler re-queues the requests that had no token
// yet and ends the others with worker_failed). A crashed scheduler takes its worker down with it
// and both start again. Every worker start and crash is reported to the health monitor. The
// node's root supervisor will hold one of these per replica.
#include <chrono>
#include <string>

#include "actors/messages.hpp"
#include "actors/scheduler.hpp"
#include "actors/worker.hpp"

namespace troupe {

struct ReplicaSetup {
  std::string name = "replica-0";
  WorkerSetup worker;
  SchedulerSetup scheduler;  // its replica name and stats subscriber are set from this setup
  caf::actor health;         // the health monitor; optional
  std::chrono::milliseconds first_backoff{100};
  std::chrono::milliseconds max_backoff{10000};
  std::chrono::milliseconds stable_after{30000};  // a worker up this long resets the backoff
};

// Speaks: (scheduler_atom) -> the replica's current scheduler; (drain_atom) -> drain_atom once its
// scheduler has no request in flight. An exit message stops the replica.
caf::actor spawn_replica_supervisor(caf::actor_system& system, ReplicaSetup setup);

}  // namespace troupe
