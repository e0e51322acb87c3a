#pragma once
// One troupe process's actors, as `serve` and `worker` start them: the actor system, this
// process's node, a front's router and Front, a replica node's cluster membership, and the
// order they stop in. cli/ wires the actors through this object and includes no CAF header.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "actors/autoscaler.hpp"
#include "actors/cluster.hpp"
#include "actors/node.hpp"
#include "actors/request.hpp"
#include "actors/router.hpp"
#include "engine/result.hpp"
#include "net/api/gateway.hpp"
#include "net/api/generation_service.hpp"
#include "net/cluster/cluster_secret.hpp"
#include "net/http/http_server.hpp"

namespace troupe {

class ProcessRuntime {
 public:
  struct Options {
    bool cluster_networking = false;  // loads CAF's middleman: a cluster port or a join
    // With networking: the cluster port speaks mutual TLS with these (derived from the secret).
    const cluster::ClusterCredentials* credentials = nullptr;
  };

  explicit ProcessRuntime(const Options& options);
  // Stops whatever is still running, the front first, and waits for every actor.
  ~ProcessRuntime();
  ProcessRuntime(const ProcessRuntime&) = delete;
  ProcessRuntime& operator=(const ProcessRuntime&) = delete;

  // This process's node: its replicas under supervision and its health monitor. First.
  void start_node(NodeSetup setup);
  // A front's router; with `local`, this process's node joins it under that request.
  // Errors: the router refused the local node.
  Status start_router(RouterSetup setup, const std::optional<wire::JoinRequest>& local);
  // Publishes the router on host:port (0: any free port); returns the port.
  Result<uint16_t> publish_router(const std::string& host, uint16_t port);
  // The front the HTTP gateway calls (after start_router).
  api::GenerationService& start_front(std::shared_ptr<const RequestContext> context,
                                      bool local_replica);
  // The front's autoscaler (after start_router): decides each tick and acts through its
  // actuator; stopped first on shutdown, which stops the replicas it started.
  void start_autoscaler(AutoscalerSetup setup);
  // A replica node's membership: joins the router at setup.host:setup.port with this process's
  // node, and rejoins whenever the front comes back.
  void join_cluster(MemberSetup setup);

  // Asks this process's node for its health; `done` runs on an actor's thread, with a report
  // that says not live when the node did not answer within a second.
  void node_health(std::function<void(wire::HealthReport)> done);

  // Waits for SIGTERM or SIGINT, then stops the autoscaler and drains the node (termination.hpp):
  // the exit code.
  int drain_on_termination_signal(std::chrono::steady_clock::time_point* signalled = nullptr);
  // A front after its node's drain (`drain_status`): requests routed to other nodes and last
  // tokens on their way to the HTTP exchanges get until `deadline` (at least a short grace);
  // then the server, the front and the router stop. Returns the exit code: 1 when requests were
  // still running at the end.
  int shut_down_front(int drain_status, std::chrono::steady_clock::time_point deadline,
                      const api::Gateway& gateway, http::Server& server);

 private:
  struct Actors;
  std::unique_ptr<Actors> actors_;
};

}  // namespace troupe
