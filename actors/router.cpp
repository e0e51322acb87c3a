#include "actors/router.hpp"

#include <caf/all.hpp>

#include "actors/sender_checks.hpp"
#include "net/cluster/membership.hpp"

#include <spdlog/spdlog.h>

#include <map>

namespace troupe {
namespace {

// What only the actor can hold about a node: its handles.
struct NodeHandles {
  caf::actor actor;
  caf::actor member;  // what joined it (a remote node's member actor); none for a local node
};

// A request routed to a node and not ended: its bridge, monitored, so that a bridge gone without
// a release (its client left before the route's answer) still gives back its count.
struct Routed {
  std::string node;
  caf::actor bridge;
};

struct RouterState {
  RouterSetup setup;
  std::unique_ptr<cluster::Router> policy;
  cluster::Membership membership;  // who is in the cluster: net/cluster/membership's policy
  std::map<std::string, NodeHandles> handles;
  std::map<caf::actor_addr, Routed> routed;
  wire::AutoscalerStatus autoscaler;  // the front's autoscaler's last report, if it has one
  static inline const char* name = "router";

  // The end of a routed request, by its release (with what the front measured of it there) or
  // its bridge's end: counted once.
  void end_routed(const caf::actor_addr& bridge, const wire::ServedRequests& served = {}) {
    auto it = routed.find(bridge);
    if (it == routed.end()) return;
    membership.released(it->second.node, served);
    routed.erase(it);
  }

  // A node newly lost: the requests routed there are told, since no token will come from it.
  void act_on(const cluster::MembershipChanges& changes) const {
    for (const std::string& node : changes.lost) {
      for (const auto& [address, r] : routed) {
        if (r.node == node) caf::anon_send(r.bridge, unreachable_atom::value, r.node);
      }
    }
    for (const auto& change : changes.routability) {
      spdlog::info("cluster: node {} is {}", change.node, cluster::describe(change));
    }
  }
};

using Self = caf::stateful_actor<RouterState>;

// What another process gets for asking what only this one may (sender_checks.hpp).
caf::error refused_from_elsewhere(const char* what) {
  spdlog::warn("cluster: refused '{}' from another process: only the front's own actors ask it",
               what);
  return caf::make_error(caf::sec::runtime_error,
                         std::string("the router takes '") + what + "' from its own process only");
}

// Asks a node for its health; its answer is heard as from `name`.
void probe(Self* self, const std::string& name, const caf::actor& node) {
  self->request(node, self->state.setup.poll, health_atom::value)
      .then(
          [self, name](wire::HealthReport& report) {
            auto& s = self->state;
            s.act_on(s.membership.heard_from(name, report, s.setup.clock()));
          },
          [](caf::error&) {});  // silence: the deadline marks it down
}

void poll_members(Self* self) {
  auto& s = self->state;
  s.act_on(s.membership.check(s.setup.clock()));
  for (const std::string& name : s.membership.connected_nodes()) {
    probe(self, name, s.handles[name].actor);
  }
  self->delayed_send(self, s.setup.poll, tick_atom::value);
}

caf::behavior router(Self* self, RouterSetup setup) {
  self->state.policy = std::make_unique<cluster::Router>(setup.strategy);
  self->state.membership = cluster::Membership({setup.model, setup.unhealthy_after});
  self->state.setup = std::move(setup);
  // A stray error message (an answer bounced back as unexpected) must not stop the cluster's
  // router: CAF's default error handler would end the actor.
  self->set_error_handler([](caf::error& error) {
    spdlog::warn("cluster: router ignored an error message: {}", to_string(error));
  });
  self->set_down_handler([self](caf::down_msg& down) {
    auto& s = self->state;
    s.end_routed(down.source);  // a bridge gone without its release
    for (const auto& [name, h] : s.handles) {
      if (h.actor && h.actor.address() == down.source) {
        s.act_on(s.membership.connection_dropped(name));
      }
    }
  });
  self->send(self, tick_atom::value);
  return {
      [self](join_atom, wire::JoinRequest& join, caf::actor& node) -> wire::JoinReply {
        auto& s = self->state;
        const auto sender = self->current_sender();
        const bool remote = sender && sender->node() != self->node();
        const auto held = s.handles.find(join.node);
        const bool holds_the_name = held != s.handles.end() && held->second.actor == node;
        auto outcome = s.membership.join(join, {remote, holds_the_name}, s.setup.clock());
        if (!outcome.reply.accepted) {
          spdlog::warn("cluster: refused node '{}': {}", join.node, outcome.reply.reason);
          return outcome.reply;
        }
        if (outcome.took_over) {
          spdlog::warn("cluster: node {} was silent: its name goes to the node joining now",
                       join.node);
          self->demonitor(held->second.actor);
        }
        s.act_on(outcome.changes);
        // A remote node's member actor hears drains; a local node is drained directly.
        s.handles[join.node] = {node, remote ? caf::actor_cast<caf::actor>(sender) : caf::actor{}};
        self->monitor(node);
        spdlog::info("cluster: node {} joined (weight {})", join.node, join.weight);
        // Ask for its health now rather than at the next poll, so it is routable at once.
        probe(self, join.node, node);
        return outcome.reply;
      },
      [self](route_atom, uint64_t prefix_key,
             std::vector<std::string>& excluded) -> caf::result<std::string, caf::actor> {
        if (!sent_from_this_process(self)) return refused_from_elsewhere("route");
        auto& s = self->state;
        const auto chosen = s.policy->pick(s.membership.loads(), prefix_key, excluded);
        if (!chosen) return caf::make_error(caf::sec::runtime_error, "no routable replica node");
        const std::string name = s.membership.members()[*chosen].load.name;
        s.membership.routed_to(name);
        if (auto bridge = caf::actor_cast<caf::actor>(self->current_sender())) {
          s.end_routed(bridge.address());  // an earlier route of this bridge not released
          self->monitor(bridge);
          s.routed[bridge.address()] = Routed{name, bridge};
        }
        return {name, s.handles[name].actor};
      },
      // A bridge's release: sent by the bridge, or anonymously as it ends (front.cpp).
      [self](release_atom, const std::string&, const caf::actor_addr& bridge,
             const wire::ServedRequests& served) {
        if (self->current_sender() && !sent_from_this_process(self)) return;
        self->state.end_routed(bridge, served);
      },
      [self](drain_atom, const std::string& name) -> caf::result<bool> {
        if (!sent_from_this_process(self)) return refused_from_elsewhere("drain");
        auto& s = self->state;
        const auto outcome = s.membership.drain(name, s.setup.clock());
        if (outcome.start == cluster::DrainStart::started) {
          spdlog::info("cluster: draining node {}", name);
        }
        s.act_on(outcome.changes);
        if (outcome.tell_node) self->send(s.handles[name].member, drain_atom::value);
        return outcome.known();
      },
      [self](undrain_atom, const std::string& name) -> caf::result<int32_t> {
        if (!sent_from_this_process(self)) return refused_from_elsewhere("undrain");
        auto& s = self->state;
        const auto outcome = s.membership.undrain(name, s.setup.clock());
        if (outcome.was_drained) spdlog::info("cluster: node {} is undrained", name);
        s.act_on(outcome.changes);
        return static_cast<int32_t>(outcome.result);
      },
      [self](status_atom) -> caf::result<wire::ClusterStatus> {
        if (!sent_from_this_process(self)) return refused_from_elsewhere("status");
        return wire::ClusterStatus{std::string(cluster::routing_name(self->state.setup.strategy)),
                                   self->state.membership.statuses(), self->state.autoscaler};
      },
      // Only the front's own autoscaler reports: a message from another node is ignored.
      [self](autoscale_atom, wire::AutoscalerStatus& status) {
        if (!sent_from_this_process(self)) return;
        self->state.autoscaler = std::move(status);
      },
      [self](tick_atom) {
        if (sent_from_this_process(self)) poll_members(self);
      },
      // A member node's own heartbeat: its health, pushed (besides the router's probes); from
      // another process, only the member that joined under that name speaks for it.
      [self](heartbeat_atom, const std::string& name, wire::HealthReport& report) {
        auto& s = self->state;
        if (!sent_from_this_process(self)) {
          const caf::strong_actor_ptr& sender = self->current_sender();  // null: anonymous
          const auto held = s.handles.find(name);
          if (!sender || held == s.handles.end() || !held->second.member ||
              sender->address() != held->second.member.address())
            return;
        }
        s.act_on(s.membership.heard_from(name, report, s.setup.clock()));
      },
  };
}

}  // namespace

caf::actor spawn_router(caf::actor_system& system, RouterSetup setup) {
  return system.spawn(router, std::move(setup));
}

}  // namespace troupe
