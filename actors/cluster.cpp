#include "actors/cluster.hpp"

#include <caf/all.hpp>

#include "actors/sender_checks.hpp"
#include "actors/termination.hpp"
#include "actors/tls_session_hooks.hpp"

#include <spdlog/spdlog.h>

#include <signal.h>
#include <unistd.h>

#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

namespace troupe {
namespace {

using try_join_atom = caf::atom_constant<caf::atom("tryjoin")>;
constexpr auto kHeartbeat = std::chrono::milliseconds(500);

struct MemberState {
  MemberSetup setup;
  caf::actor router;
  bool warned = false;   // one log line per outage, not one per retry
  bool beating = false;  // a heartbeat is scheduled (one chain at most)
  bool draining = false;
  static inline const char* name = "cluster-member";
};

// Blocking connects (CAF 0.17's remote_actor) run on this actor's own thread: it is detached.
caf::behavior cluster_member(caf::stateful_actor<MemberState, caf::event_based_actor>* self,
                             MemberSetup setup) {
  self->state.setup = std::move(setup);
  self->set_down_handler([self](caf::down_msg& down) {
    if (self->state.router && down.source == self->state.router.address()) {
      spdlog::warn("cluster: lost the front at {}:{}; rejoining", self->state.setup.host,
                   self->state.setup.port);
      self->state.router = nullptr;
      if (self->state.setup.on_joined) self->state.setup.on_joined(false);
      self->send(self, try_join_atom::value);
    }
  });
  self->send(self, try_join_atom::value);
  return {
      // While joined: the node's health to the router every kHeartbeat, as a heartbeat.
      [self](tick_atom) {
        auto& s = self->state;
        if (!s.router) {  // not joined (now): the next join starts them again
          s.beating = false;
          return;
        }
        self->request(s.setup.node, kHeartbeat, health_atom::value)
            .then(
                [self](wire::HealthReport& report) {
                  if (self->state.router) {
                    self->send(self->state.router, heartbeat_atom::value,
                               self->state.setup.request.node, report);
                  }
                },
                [](caf::error&) {});
        self->delayed_send(self, kHeartbeat, tick_atom::value);
      },
      // The front drains this node: the drain SIGTERM starts (termination.hpp drains and exits),
      // through the drain signal, so that the kubelet's SIGTERM after it is not a second signal.
      [self](drain_atom) {
        // Only the front this node joined drains it (its router: front.cpp's drain of a node).
        if (!self->state.router || !sent_from_node_of(self, self->state.router.node())) return;
        if (self->state.draining) return;
        self->state.draining = true;
        ::kill(::getpid(), kDrainSignal);
      },
      [self](try_join_atom) {
        auto& s = self->state;
        auto& system = self->system();
        const bool tls = system.has_openssl_manager();
        auto router = tls ? caf::openssl::remote_actor(system, s.setup.host, s.setup.port)
                          : system.middleman().remote_actor(s.setup.host, s.setup.port);
        if (!router) {
          if (!s.warned) {
            spdlog::warn(
                "cluster: cannot reach the front at {}:{} ({}); retrying every {} ms. If the "
                "front is up, {}",
                s.setup.host, s.setup.port, system.render(router.error()), s.setup.retry.count(),
                tls ? "its --cluster-secret-file may hold another secret (the TLS handshake "
                      "failed)"
                    : "it may require --cluster-secret-file");
            s.warned = true;
          }
          self->delayed_send(self, s.setup.retry, try_join_atom::value);
          return;
        }
        s.warned = false;
        self->request(*router, std::chrono::seconds(10), join_atom::value, s.setup.request,
                      s.setup.node)
            .then(
                [self, router = *router](wire::JoinReply& reply) {
                  auto& s = self->state;
                  if (!reply.accepted) {
                    if (s.setup.on_refused) s.setup.on_refused(reply.reason);
                    self->quit();
                    return;
                  }
                  spdlog::info("cluster: node {} joined the front at {}:{}", s.setup.request.node,
                               s.setup.host, s.setup.port);
                  s.router = router;
                  self->monitor(router);
                  if (s.setup.on_joined) s.setup.on_joined(true);
                  if (!s.beating) {
                    s.beating = true;
                    self->send(self, tick_atom::value);
                  }
                },
                [self](caf::error& error) {
                  spdlog::warn("cluster: join failed ({}); retrying", self->system().render(error));
                  self->delayed_send(self, self->state.setup.retry, try_join_atom::value);
                });
      },
  };
}

}  // namespace

void enable_cluster_networking(caf::actor_system_config& config,
                               const cluster::ClusterCredentials* credentials) {
  config.load<caf::io::middleman>();
  if (!credentials) return;
  // Every node presents the certificate derived from the secret and trusts only it.
  config.openssl_certificate = credentials->certificate_file();
  config.openssl_key = credentials->key_file();
  config.openssl_cafile = credentials->certificate_file();
  config.load<caf::openssl::manager>();
  use_tls_session_hooks();
}

Result<uint16_t> publish_router(caf::actor_system& system, const caf::actor& router,
                                const std::string& host, uint16_t port) {
  auto published = system.has_openssl_manager()
                       ? caf::openssl::publish(router, port, host.c_str(), true)
                       : system.middleman().publish(router, port, host.c_str(), true);
  if (!published) {
    return make_error("cannot publish the cluster port " + host + ":" + std::to_string(port) +
                      ": " + system.render(published.error()));
  }
  return *published;
}

Status join_router(caf::actor_system& system, const caf::actor& router,
                   const wire::JoinRequest& request, const caf::actor& node) {
  caf::scoped_actor self{system};
  Status status = make_error("the router did not answer the join");
  self->request(router, std::chrono::seconds(10), join_atom::value, request, node)
      .receive(
          [&](wire::JoinReply& reply) {
            status = reply.accepted ? Status(Ok{}) : Status(make_error(reply.reason));
          },
          [&](caf::error& error) { status = make_error(system.render(error)); });
  return status;
}

caf::actor spawn_cluster_member(caf::actor_system& system, MemberSetup setup) {
  return system.spawn<caf::detached>(cluster_member, std::move(setup));
}

Result<std::pair<std::string, uint16_t>> parse_host_port(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return make_error("'" + text + "' is not HOST:PORT");
  }
  const std::string port = text.substr(colon + 1);
  if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 ||
      std::stoi(port) < 1 || std::stoi(port) > 65535) {
    return make_error("'" + port + "' in '" + text + "' is not a port number (1-65535)");
  }
  return std::pair{text.substr(0, colon), static_cast<uint16_t>(std::stoi(port))};
}

}  // namespace troupe
