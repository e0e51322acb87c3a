#pragma once
// Cluster membership over CAF's network layer (its middleman): the front publishes its router
// on --cluster-port; a replica node (`troupe worker --join HOST:PORT`) connects, joins with a
// wire::JoinRequest, sends its health as a heartbeat every 500 ms and stays joined — when the
// front goes away it keeps trying, so a restarted front gets its nodes back. Messages cross as the
// types configure_actor_system registers.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "actors/messages.hpp"
#include "engine/result.hpp"
#include "net/cluster/cluster_secret.hpp"

namespace troupe {

// Loads CAF's middleman into `config`: required before publishing or joining. With
// `credentials` (derived from the cluster secret), also CAF's OpenSSL module: the cluster port
// then speaks mutually authenticated TLS, and a node must hold the same secret to connect.
void enable_cluster_networking(caf::actor_system_config& config,
                               const cluster::ClusterCredentials* credentials = nullptr);

// Publishes the router on host:port (port 0: any free one), over TLS when the system has the
// OpenSSL module. Returns the port.
Result<uint16_t> publish_router(caf::actor_system& system, const caf::actor& router,
                                const std::string& host, uint16_t port);

// Joins `node` to a router in this process (the front's own replica), waiting for the answer.
Status join_router(caf::actor_system& system, const caf::actor& router,
                   const wire::JoinRequest& request, const caf::actor& node);

struct MemberSetup {
  std::string host;
  uint16_t port = 0;
  wire::JoinRequest request;
  caf::actor node;
  std::chrono::milliseconds retry{1000};
  // Called once if the front refuses the node (model or protocol mismatch, name taken).
  std::function<void(const std::string& reason)> on_refused;
  // Called with true when the front accepts the node, false when it is lost (then it rejoins).
  std::function<void(bool joined)> on_joined;
};

// Connects to the front's router, joins, and rejoins whenever the router goes away.
caf::actor spawn_cluster_member(caf::actor_system& system, MemberSetup setup);

// "HOST:PORT" into its parts, with a message naming what is wrong.
Result<std::pair<std::string, uint16_t>> parse_host_port(const std::string& text);

}  // namespace troupe
