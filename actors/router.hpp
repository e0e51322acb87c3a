#pragma once
// The cluster's router (DESIGN.md): which replica node takes each request. Nodes join with a
// wire::JoinRequest — the front's own node the same way — and the router watches each: a
// monitor for its process or connection going away (it leaves routing at once), and its health,
// both probed by the router and pushed by the node as heartbeats: its load and whether it admits
// requests (not draining). A node heard from by neither for `unhealthy_after` leaves routing
// until it is heard again. Who is in the cluster is net/cluster/membership's pure policy and
// which node takes a request net/cluster/routing's; this actor keeps the nodes' handles, the
// monitors and timers, and sends what the policies decide.
#include <chrono>
#include <functional>
#include <string>

#include "actors/messages.hpp"
#include "net/cluster/routing.hpp"

namespace troupe {

struct RouterSetup {
  cluster::RoutingStrategy strategy = cluster::RoutingStrategy::round_robin;
  std::string model;  // the front's model_identity: joining nodes must serve the same
  std::chrono::milliseconds unhealthy_after{3000};
  std::chrono::milliseconds poll{500};
  // The time the membership policy is told; tests pass a clock they move themselves.
  std::function<std::chrono::steady_clock::time_point()> clock = std::chrono::steady_clock::now;
};

// Speaks:
//   (join_atom, wire::JoinRequest, caf::actor node) -> wire::JoinReply; refused for another
//       protocol or model, or a name whose node still answers (a silent one gives it up)
//   (route_atom, uint64_t prefix_key, std::vector<std::string> excluded)
//       -> (std::string name, caf::actor node), or an error when no node is routable
//   (release_atom, std::string name, caf::actor_addr bridge, wire::ServedRequests served): a
//       request routed to `name` ended; `served` (its latency there, whether it failed) adds to
//       the node's totals in the ClusterStatus
//   to each bridge routed to a node that is lost (disconnected or silent):
//       (unreachable_atom, std::string name)
//   (drain_atom, std::string name) -> bool (known): the node stops getting requests, finishes
//       its work and, when it is a remote node, leaves (its process exits as on SIGTERM); the
//       front's own node stays up, out of routing
//   (undrain_atom, std::string name) -> int32_t, an api::UndrainResult: routed again, unless it
//       is a remote node already leaving
//   (status_atom) -> wire::ClusterStatus
//   (heartbeat_atom, std::string name, wire::HealthReport): a member node's pushed health
//   (autoscale_atom, wire::AutoscalerStatus): the front's autoscaler's last decision, shown in
//       the ClusterStatus; ignored from another node
caf::actor spawn_router(caf::actor_system& system, RouterSetup setup);

}  // namespace troupe
