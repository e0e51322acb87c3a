#include "actors/health_monitor.hpp"

#include <caf/all.hpp>

#include <vector>

#include "net/cluster/readiness.hpp"

namespace troupe {
namespace {

using Clock = std::chrono::steady_clock;

struct HealthState {
  cluster::NodeReadiness readiness;  // net/cluster/readiness's policy
  std::vector<caf::actor> subscribers;
  static inline const char* name = "health_monitor";
};

using Self = caf::stateful_actor<HealthState>;

// Tells subscribers when what they act on changed: readiness, draining, restarts.
void publish(Self* self) {
  auto& s = self->state;
  if (auto fresh = s.readiness.to_publish(Clock::now())) {
    for (const auto& subscriber : s.subscribers) self->send(subscriber, *fresh);
  }
}

caf::behavior health_monitor(Self* self, HealthMonitorSetup setup) {
  self->state.readiness = cluster::NodeReadiness(setup.stale_after);
  self->delayed_send(self, self->state.readiness.recheck_every(), tick_atom::value);
  self->set_down_handler([self](caf::down_msg& down) {
    auto& subs = self->state.subscribers;
    std::erase_if(subs, [&](const caf::actor& a) { return a.address() == down.source; });
  });
  return {
      [self](wire::ReplicaStats& stats) {
        self->state.readiness.stats(std::move(stats), Clock::now());
        publish(self);
      },
      [self](WorkerStatus& status) {
        self->state.readiness.worker_status(status, Clock::now());
        publish(self);
      },
      [self](drain_atom) {
        self->state.readiness.drain();
        publish(self);
      },
      [self](tick_atom) {
        publish(self);
        self->delayed_send(self, self->state.readiness.recheck_every(), tick_atom::value);
      },
      [self](subscribe_atom) -> HealthReport {
        auto subscriber = caf::actor_cast<caf::actor>(self->current_sender());
        self->monitor(subscriber);
        self->state.subscribers.push_back(subscriber);
        return self->state.readiness.report(Clock::now());
      },
      [self](health_atom) -> HealthReport { return self->state.readiness.report(Clock::now()); },
  };
}

}  // namespace

caf::actor spawn_health_monitor(caf::actor_system& system, HealthMonitorSetup setup) {
  return system.spawn(health_monitor, setup);
}

}  // namespace troupe
