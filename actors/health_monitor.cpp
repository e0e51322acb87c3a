#include "actors/health_monitor.hpp"

#include <map>
#include <tuple>
#include <vector>

namespace troupe {
namespace {

using Clock = std::chrono::steady_clock;

struct Replica {
  wire::ReplicaStats stats;
  Clock::time_point last_report{};
  bool worker_up = false;
  int32_t restarts = 0;
  std::string down_reason;
};

struct HealthState {
  HealthMonitorSetup setup;
  std::map<std::string, Replica> replicas;
  bool draining = false;
  std::vector<caf::actor> subscribers;
  HealthReport published;
  static inline const char* name = "health_monitor";
};

using Self = caf::stateful_actor<HealthState>;

HealthReport report(const HealthState& s) {
  HealthReport r;
  r.draining = s.draining;
  const auto now = Clock::now();
  for (const auto& [name, replica] : s.replicas) {
    r.restarts += replica.restarts;
    r.replicas.push_back(replica.stats);
    if (replica.worker_up && now - replica.last_report < s.setup.stale_after) r.ready = true;
  }
  if (s.draining) {
    r.ready = false;
    r.reason = "draining";
  } else if (!r.ready) {
    r.reason = s.replicas.empty() ? "no replica has started yet"
                                  : "no replica has a running worker that reported recently";
  }
  return r;
}

// Tells subscribers when what they act on changed: readiness, draining, restarts.
void publish(Self* self) {
  auto& s = self->state;
  HealthReport now = report(s);
  const auto key = [](const HealthReport& r) {
    return std::tie(r.ready, r.draining, r.reason, r.restarts);
  };
  if (key(now) == key(s.published)) return;
  s.published = now;
  for (const auto& subscriber : s.subscribers) self->send(subscriber, now);
}

caf::behavior health_monitor(Self* self, HealthMonitorSetup setup) {
  self->state.setup = setup;
  self->state.published = report(self->state);
  // Staleness shows only with time: look again twice per window.
  self->delayed_send(self, setup.stale_after / 2, tick_atom::value);
  self->set_down_handler([self](caf::down_msg& down) {
    auto& subs = self->state.subscribers;
    std::erase_if(subs, [&](const caf::actor& a) { return a.address() == down.source; });
  });
  return {
      [self](wire::ReplicaStats& stats) {
        Replica& r = self->state.replicas[stats.replica];
        r.stats = std::move(stats);
        r.last_report = Clock::now();
        publish(self);
      },
      [self](WorkerStatus& status) {
        Replica& r = self->state.replicas[status.replica];
        r.stats.replica = status.replica;
        r.worker_up = status.up;
        r.restarts = status.restarts;
        r.down_reason = status.reason;
        if (status.up) r.last_report = Clock::now();
        publish(self);
      },
      [self](drain_atom) {
        self->state.draining = true;
        publish(self);
      },
      [self](tick_atom) {
        publish(self);
        self->delayed_send(self, self->state.setup.stale_after / 2, tick_atom::value);
      },
      [self](subscribe_atom) -> HealthReport {
        auto subscriber = caf::actor_cast<caf::actor>(self->current_sender());
        self->monitor(subscriber);
        self->state.subscribers.push_back(subscriber);
        return report(self->state);
      },
      [self](health_atom) -> HealthReport { return report(self->state); },
  };
}

}  // namespace

caf::actor spawn_health_monitor(caf::actor_system& system, HealthMonitorSetup setup) {
  return system.spawn(health_monitor, setup);
}

}  // namespace troupe
