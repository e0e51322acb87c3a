#include "actors/router.hpp"

#include "net/api/generation_service.hpp"
#include "net/wire/replica_totals.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

namespace troupe {
namespace {

using Clock = std::chrono::steady_clock;

struct Member {
  cluster::NodeLoad load;
  bool connected = true;  // false once its actor is gone (it may join again)
  int64_t routed = 0;
  int64_t prefix_cache_queries = 0, prefix_cache_hits = 0;  // as its replicas last reported
  int64_t health_reports = 0;
  caf::actor actor;
  caf::actor member;  // what joined it (a remote node's member actor); none for a local node
  bool lost = false;  // disconnected or silent: its requests were told
  bool drain_requested = false;  // by troupe drain: out of routing whatever its health says
  Clock::time_point last_answer;
  // Its last health answer said live and not draining. A node still starting its worker is
  // admitting: its scheduler queues requests until the worker is up.
  bool admitting = true;
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
  std::vector<Member> members;
  std::map<caf::actor_addr, Routed> routed;
  static inline const char* name = "router";

  Member* find(const std::string& name) {
    for (auto& m : members) {
      if (m.load.name == name) return &m;
    }
    return nullptr;
  }
  // The end of a routed request, by its release or its bridge's end: counted once.
  void end_routed(const caf::actor_addr& bridge) {
    auto it = routed.find(bridge);
    if (it == routed.end()) return;
    if (Member* m = find(it->second.node))
      m->load.outstanding = std::max(0, m->load.outstanding - 1);
    routed.erase(it);
  }

  bool answering(const Member& m, Clock::time_point now) const {
    return now - m.last_answer <= setup.unhealthy_after;
  }

  // Routable: connected, answering, admitting. A node that drops its connection or stops
  // answering is lost: the requests routed there are told, since no token will come from it.
  void refresh(Member& m, Clock::time_point now) const {
    const bool answering = this->answering(m, now);
    const bool routable = m.connected && answering && m.admitting && !m.drain_requested;
    const bool lost = !m.connected || !answering;
    if (lost && !m.lost) {
      for (const auto& [address, r] : routed) {
        if (r.node == m.load.name) caf::anon_send(r.bridge, unreachable_atom::value, r.node);
      }
    }
    m.lost = lost;
    if (routable != m.load.routable) {
      spdlog::info("cluster: node {} is {}", m.load.name,
                   routable ? "routable" : (m.connected ? "down (silent or draining)" : "gone"));
    }
    m.load.routable = routable;
  }
};

using Self = caf::stateful_actor<RouterState>;

std::optional<std::string> refusal(const RouterState& s, const wire::JoinRequest& join) {
  if (join.protocol != wire::kClusterProtocol) {
    return "cluster protocol " + std::to_string(join.protocol) + " is not this front's " +
           std::to_string(wire::kClusterProtocol) + ": run the same troupe version on every node";
  }
  if (join.node.empty()) return std::string("the node has no name: give it --node-name");
  if (join.model != s.setup.model) {
    return "the node serves '" + join.model + "' but the cluster serves '" + s.setup.model +
           "': start it with the front's --model";
  }
  if (!(join.weight > 0)) return std::string("--weight must be positive");
  return std::nullopt;
}

void apply_health(Member& m, const wire::HealthReport& report) {
  m.last_answer = Clock::now();
  ++m.health_reports;
  m.admitting = report.live && !report.draining;
  const wire::ReplicaTotals totals = wire::sum_replicas(report.replicas);
  m.load.waiting = totals.waiting;
  m.load.kv_usage = totals.kv_usage();
  m.prefix_cache_queries = totals.prefix_cache_queries;
  m.prefix_cache_hits = totals.prefix_cache_hits;
}

void poll_members(Self* self) {
  const auto now = Clock::now();
  for (auto& m : self->state.members) {
    self->state.refresh(m, now);
    if (!m.connected) continue;
    const std::string name = m.load.name;
    self->request(m.actor, self->state.setup.poll, health_atom::value)
        .then(
            [self, name](wire::HealthReport& report) {
              if (Member* member = self->state.find(name)) {
                apply_health(*member, report);
                self->state.refresh(*member, Clock::now());
              }
            },
            [](caf::error&) {});  // silence: the deadline marks it down
  }
  self->delayed_send(self, self->state.setup.poll, tick_atom::value);
}

wire::NodeStatus node_status(const Member& m) {
  const cluster::NodeLoad& l = m.load;
  return {l.name,    l.routable, m.connected, l.outstanding,          m.routed,
          l.waiting, l.kv_usage, l.weight,    m.prefix_cache_queries, m.prefix_cache_hits,
          m.health_reports};
}

caf::behavior router(Self* self, RouterSetup setup) {
  self->state.policy = std::make_unique<cluster::Router>(setup.strategy);
  self->state.setup = std::move(setup);
  self->set_down_handler([self](caf::down_msg& down) {
    self->state.end_routed(down.source);  // a bridge gone without its release
    for (auto& m : self->state.members) {
      if (m.actor && m.actor.address() == down.source) {
        m.connected = false;
        self->state.refresh(m, Clock::now());
      }
    }
  });
  self->send(self, tick_atom::value);
  return {
      [self](join_atom, wire::JoinRequest& join, caf::actor& node) -> wire::JoinReply {
        auto& s = self->state;
        if (auto reason = refusal(s, join)) {
          spdlog::warn("cluster: refused node '{}': {}", join.node, *reason);
          return {false, *reason};
        }
        Member* m = s.find(join.node);
        // A name is taken while its node answers. A silent one gives it up to the node joining
        // (a hung process replaced under the same name, as a StatefulSet restarts its pod).
        if (m && m->connected && m->actor != node && s.answering(*m, Clock::now())) {
          const std::string reason = "a node named '" + join.node + "' is already in the cluster";
          spdlog::warn("cluster: refused node '{}': {}", join.node, reason);
          return {false, reason};
        }
        if (!m) {
          s.members.push_back({});
          m = &s.members.back();
        } else if (m->connected && m->actor != node) {
          spdlog::warn("cluster: node {} was silent: its name goes to the node joining now",
                       join.node);
          s.refresh(*m, Clock::now());  // its requests are told, if the last poll did not yet
          self->demonitor(m->actor);
        }
        m->load.name = join.node;
        m->load.weight = join.weight;
        m->load.capacity = std::max(1, join.capacity);
        m->connected = true;
        m->actor = node;
        // A remote node's member actor hears drains; a local node is drained directly.
        const auto sender = self->current_sender();
        m->member = sender && sender->node() != self->node() ? caf::actor_cast<caf::actor>(sender)
                                                             : caf::actor{};
        m->lost = false;
        m->drain_requested = false;
        m->last_answer = Clock::now();
        m->admitting = true;  // it just spoke; its health answers keep it routable
        self->monitor(node);
        spdlog::info("cluster: node {} joined (weight {})", join.node, join.weight);
        // Ask for its health now rather than at the next poll, so it is routable at once.
        const std::string name = join.node;
        self->request(node, s.setup.poll, health_atom::value)
            .then(
                [self, name](wire::HealthReport& report) {
                  if (Member* member = self->state.find(name)) {
                    apply_health(*member, report);
                    self->state.refresh(*member, Clock::now());
                  }
                },
                [](caf::error&) {});
        return {true, ""};
      },
      [self](route_atom, uint64_t prefix_key,
             std::vector<std::string>& excluded) -> caf::result<std::string, caf::actor> {
        auto& s = self->state;
        std::vector<cluster::NodeLoad> loads;
        for (const auto& m : s.members) loads.push_back(m.load);
        const auto chosen = s.policy->pick(loads, prefix_key, excluded);
        if (!chosen) return caf::make_error(caf::sec::runtime_error, "no routable replica node");
        Member& m = s.members[*chosen];
        m.load.outstanding++;
        m.routed++;
        if (auto bridge = caf::actor_cast<caf::actor>(self->current_sender())) {
          self->monitor(bridge);
          s.routed[bridge.address()] = Routed{m.load.name, bridge};
        }
        return {m.load.name, m.actor};
      },
      [self](release_atom, const std::string&, const caf::actor_addr& bridge) {
        self->state.end_routed(bridge);
      },
      [self](drain_atom, const std::string& name) -> bool {
        Member* m = self->state.find(name);
        if (!m || !m->connected) return false;
        if (m->drain_requested) return true;  // once: a second SIGTERM would end it at once
        spdlog::info("cluster: draining node {}", name);
        m->drain_requested = true;  // no new requests from now, whatever its health says
        self->state.refresh(*m, Clock::now());
        // A remote node drains as on SIGTERM, then leaves. The front's own node only leaves
        // routing: its requests finish, and it serves again when undrained.
        if (m->member) self->send(m->member, drain_atom::value);
        return true;
      },
      [self](undrain_atom, const std::string& name) -> int32_t {
        Member* m = self->state.find(name);
        if (!m || !m->connected) return static_cast<int32_t>(api::UndrainResult::unknown);
        if (m->drain_requested && m->member) {
          return static_cast<int32_t>(api::UndrainResult::leaving);
        }
        if (m->drain_requested) spdlog::info("cluster: node {} is undrained", name);
        m->drain_requested = false;
        self->state.refresh(*m, Clock::now());
        return static_cast<int32_t>(api::UndrainResult::undrained);
      },
      [self](status_atom) {
        wire::ClusterStatus status{std::string(cluster::routing_name(self->state.setup.strategy)),
                                   {}};
        for (const auto& m : self->state.members) status.nodes.push_back(node_status(m));
        return status;
      },
      [self](tick_atom) { poll_members(self); },
      // A member node's own heartbeat: its health, pushed (besides the router's probes).
      [self](heartbeat_atom, const std::string& name, wire::HealthReport& report) {
        Member* m = self->state.find(name);
        if (!m || !m->connected) return;
        apply_health(*m, report);
        self->state.refresh(*m, Clock::now());
      },
  };
}

}  // namespace

caf::actor spawn_router(caf::actor_system& system, RouterSetup setup) {
  return system.spawn(router, std::move(setup));
}

}  // namespace troupe
