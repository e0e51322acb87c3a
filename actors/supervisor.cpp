#include "actors/supervisor.hpp"

#include <caf/all.hpp>

#include "net/cluster/failover.hpp"

namespace troupe {
namespace {

using Clock = std::chrono::steady_clock;

struct SupervisorState {
  ReplicaSetup setup;
  caf::actor scheduler;
  caf::actor worker;
  int32_t restarts = 0;
  std::chrono::milliseconds backoff{0};
  Clock::time_point worker_started{};
  bool draining = false;  // a restarted scheduler drains too
  static inline const char* name = "replica_supervisor";
};

using Self = caf::stateful_actor<SupervisorState>;

void report(Self* self, bool up, std::string reason = {}) {
  auto& s = self->state;
  if (s.setup.health) {
    self->send(s.setup.health, WorkerStatus{s.setup.name, up, s.restarts, std::move(reason)});
  }
}

void start_worker(Self* self) {
  auto& s = self->state;
  s.worker = spawn_worker(self->system(), s.setup.worker);
  self->monitor(s.worker);
  s.worker_started = Clock::now();
  self->send(s.scheduler, worker_atom::value, s.worker);
  report(self, true);
}

void start_scheduler(Self* self) {
  auto& s = self->state;
  SchedulerSetup setup = s.setup.scheduler;
  setup.replica = s.setup.name;
  setup.stats_subscriber = s.setup.health;
  s.scheduler = spawn_scheduler(self->system(), std::move(setup));
  self->monitor(s.scheduler);
  if (s.draining) self->send(s.scheduler, drain_atom::value);
}

// Waits out the backoff (net/cluster/failover's), then starts a worker.
void schedule_restart(Self* self, const caf::error& reason) {
  auto& s = self->state;
  ++s.restarts;
  report(self, false, self->system().render(reason));
  const cluster::RestartBackoff policy{s.setup.first_backoff, s.setup.max_backoff,
                                       s.setup.stable_after};
  s.backoff = cluster::next_backoff(policy, s.backoff, s.worker_started, Clock::now());
  self->delayed_send(self, s.backoff, restart_atom::value);
}

caf::behavior supervisor(Self* self, ReplicaSetup setup) {
  self->state.setup = std::move(setup);
  start_scheduler(self);
  start_worker(self);
  self->set_down_handler([self](caf::down_msg& down) {
    auto& s = self->state;
    const bool worker_down = s.worker && down.source == s.worker.address();
    const bool scheduler_down = !worker_down && s.scheduler && down.source == s.scheduler.address();
    if (!worker_down && !scheduler_down) return;
    if (worker_down) s.worker = nullptr;
    const auto plan = cluster::restart_plan(
        worker_down ? cluster::ReplicaPart::worker : cluster::ReplicaPart::scheduler,
        static_cast<bool>(s.worker));
    if (plan.stop_worker) {
      self->demonitor(s.worker);
      self->send_exit(s.worker, caf::exit_reason::user_shutdown);
      s.worker = nullptr;
    }
    if (plan.start_scheduler_now) start_scheduler(self);
    if (plan.start_worker_after_backoff) schedule_restart(self, down.reason);
  });
  self->set_exit_handler([self](caf::exit_msg& exit) {
    auto& s = self->state;
    for (const caf::actor& child : {s.scheduler, s.worker}) {
      if (child) self->send_exit(child, exit.reason);
    }
    self->quit(exit.reason);
  });
  return {
      [self](restart_atom) {
        if (!self->state.worker) start_worker(self);
      },
      [self](scheduler_atom) { return self->state.scheduler; },
      [self](drain_atom) {
        self->state.draining = true;
        return self->delegate(self->state.scheduler, drain_atom::value);
      },
  };
}

}  // namespace

caf::actor spawn_replica_supervisor(caf::actor_system& system, ReplicaSetup setup) {
  return system.spawn(supervisor, std::move(setup));
}

}  // namespace troupe
