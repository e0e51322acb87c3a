#include "actors/autoscaler.hpp"

#include <spdlog/spdlog.h>

#include <caf/all.hpp>
#include <deque>

namespace troupe {
namespace {

constexpr size_t kEventsKept = 50;

struct AutoscalerState {
  AutoscalerSetup setup;
  caf::actor router;
  std::deque<autoscale::ClusterSample> samples;
  autoscale::PolicyState policy;
  wire::AutoscalerStatus status;
  static inline const char* name = "autoscaler";

  // How far back the policy looks: its longest window, and one sample before it.
  autoscale::Milliseconds history() const {
    autoscale::Milliseconds longest = std::max(setup.policy.panic_window, setup.policy.slo.window);
    for (const auto& rule : setup.policy.rules) longest = std::max(longest, rule.window);
    return longest + 2 * setup.tick;
  }
};

using Self = caf::stateful_actor<AutoscalerState>;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void record(AutoscalerState& s, const autoscale::Decision& d) {
  s.status.desired = d.desired;
  s.status.ready = d.ready;
  s.status.starting = d.starting;
  s.status.stuck = d.stuck;
  s.status.rule = d.rule;
  s.status.reason = d.reason;
  s.status.panic = d.panic;
  if (!d.scales()) return;
  (d.desired > d.current ? s.status.scale_ups : s.status.scale_downs) += 1;
  s.status.events.push_back({unix_now(), d.current, d.desired, d.rule, d.reason});
  if (s.status.events.size() > kEventsKept) s.status.events.erase(s.status.events.begin());
}

// Carries out a decision that scales; false when the actuator could not (the decision is then
// not remembered as a scale event: no cooldown or step budget spent on what did not happen).
bool act(Self* self, const autoscale::Decision& d, const std::vector<std::string>& ready) {
  auto& s = self->state;
  const char* mode = s.setup.advisory ? "autoscaler (advisory, not acting)" : "autoscaler";
  spdlog::info("{}: {} -> {} replicas ({}: {})", mode, d.current, d.desired, d.rule, d.reason);
  if (s.setup.advisory) return true;
  auto leaving = s.setup.actuator->scale(d, ready, d.at);
  if (!leaving) {
    s.status.error = leaving.message();
    spdlog::warn("autoscaler: {}", leaving.message());
    return false;
  }
  s.status.error.clear();
  for (const std::string& name : *leaving) {
    spdlog::info("autoscaler: draining {}", name);
    const auto failed = [self, name](const std::string& why) {
      spdlog::warn("autoscaler: draining {} failed: {}", name, why);
      self->state.setup.actuator->drain_failed(name);  // it may be chosen again
    };
    self->request(s.router, std::chrono::seconds(5), drain_atom::value, name)
        .then(
            [failed](bool known) {
              if (!known) failed("the router does not know it");
            },
            [failed](caf::error& error) { failed(to_string(error)); });
  }
  return true;
}

void on_cluster(Self* self, const wire::ClusterStatus& cluster) {
  auto& s = self->state;
  const autoscale::TimePoint now = s.setup.clock();
  std::vector<std::string> ready, draining;
  for (const wire::NodeStatus& node : cluster.nodes) {
    if (node.connected && node.routable) ready.push_back(node.name);
    if (node.connected && node.draining) draining.push_back(node.name);
  }
  s.samples.push_back(autoscale::sample_of(cluster, s.setup.service_levels(),
                                           s.setup.actuator->starting(ready, draining, now), now));
  while (s.samples.size() > 2 && now - s.samples.front().at > s.history()) s.samples.pop_front();
  const std::vector<autoscale::ClusterSample> window(s.samples.begin(), s.samples.end());
  autoscale::Decision d = autoscale::decide(window, s.setup.policy, s.policy);
  if (d.stuck > 0 && !s.setup.advisory)
    s.setup.actuator->give_up(now - s.setup.policy.ready_timeout);
  if (d.scales() && !act(self, d, ready)) {
    d.reason += "; not carried out: " + s.status.error;
    d.desired = d.current;
  }
  s.policy = autoscale::remember(std::move(s.policy), d, s.setup.policy);
  record(s, d);
  self->send(s.router, autoscale_atom::value, s.status);
}

caf::behavior autoscaler(Self* self, caf::actor router, AutoscalerSetup setup) {
  auto& s = self->state;
  s.router = std::move(router);
  s.status.mode = setup.actuator->mode();
  s.status.advisory = setup.advisory;
  s.status.min_replicas = setup.policy.min_replicas;
  s.status.max_replicas = setup.policy.max_replicas;
  s.setup = std::move(setup);
  self->send(self, tick_atom::value);
  return {
      [self](tick_atom) {
        auto& s = self->state;
        self->request(s.router, std::chrono::seconds(5), status_atom::value)
            .then(
                [self](wire::ClusterStatus& cluster) {
                  on_cluster(self, cluster);
                  self->delayed_send(self, self->state.setup.tick, tick_atom::value);
                },
                [self](caf::error& error) {
                  spdlog::warn("autoscaler: the router did not answer: {}", to_string(error));
                  self->delayed_send(self, self->state.setup.tick, tick_atom::value);
                });
      },
  };
}

}  // namespace

caf::actor spawn_autoscaler(caf::actor_system& system, caf::actor router, AutoscalerSetup setup) {
  return system.spawn<caf::detached>(autoscaler, std::move(router), std::move(setup));
}

}  // namespace troupe
