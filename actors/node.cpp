#include "actors/node.hpp"

#include <caf/all.hpp>

#include "actors/sender_checks.hpp"

#include <memory>

namespace troupe {
namespace {

struct NodeState {
  NodeSetup setup;
  caf::actor health;
  std::vector<caf::actor> replicas;
  size_t next_replica = 0;
  static inline const char* name = "node";
};

using Self = caf::stateful_actor<NodeState>;

caf::behavior node(Self* self, NodeSetup setup) {
  auto& s = self->state;
  s.setup = std::move(setup);
  s.health = spawn_health_monitor(self->system(), s.setup.health);
  for (ReplicaSetup replica : s.setup.replicas) {
    replica.health = s.health;
    s.replicas.push_back(spawn_replica_supervisor(self->system(), std::move(replica)));
  }
  self->set_exit_handler([self](caf::exit_msg& exit) {
    for (const caf::actor& child : self->state.replicas) self->send_exit(child, exit.reason);
    self->send_exit(self->state.health, exit.reason);
    self->quit(exit.reason);
  });
  return {
      // This process drains its node (termination.cpp; a member's drain goes through a signal).
      [self](drain_atom) -> caf::result<drain_atom, bool> {
        if (!sent_from_this_process(self)) {
          return caf::make_error(caf::sec::runtime_error, "a node drains for its own process only");
        }
        auto& s = self->state;
        self->send(s.health, drain_atom::value);
        auto promise = self->make_response_promise<drain_atom, bool>();
        // Shared by the answers: the first of "all drained" or the timeout delivers.
        struct Progress {
          size_t pending;
          bool answered = false;
        };
        auto progress = std::make_shared<Progress>(Progress{s.replicas.size()});
        auto answer = [promise, progress](bool in_time) mutable {
          if (progress->answered) return;
          progress->answered = true;
          promise.deliver(drain_atom::value, in_time);
        };
        if (s.replicas.empty()) answer(true);
        for (const caf::actor& replica : s.replicas) {
          self->request(replica, s.setup.drain_timeout, drain_atom::value)
              .then(
                  [progress, answer](drain_atom) mutable {
                    if (--progress->pending == 0) answer(true);
                  },
                  [answer](caf::error&) mutable { answer(false); });
        }
        return promise;
      },
      [self](health_atom) { return self->delegate(self->state.health, health_atom::value); },
      [self](subscribe_atom) { return self->delegate(self->state.health, subscribe_atom::value); },
      [self](scheduler_atom) -> caf::result<caf::message> {
        auto& s = self->state;
        if (s.replicas.empty()) {
          return caf::make_error(caf::sec::runtime_error, "this node runs no replica");
        }
        const caf::actor replica = s.replicas.at(s.next_replica++ % s.replicas.size());
        return self->delegate(replica, scheduler_atom::value);
      },
  };
}

}  // namespace

caf::actor spawn_node(caf::actor_system& system, NodeSetup setup) {
  return system.spawn(node, std::move(setup));
}

}  // namespace troupe
