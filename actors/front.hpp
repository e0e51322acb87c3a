#pragma once
// The Beast front actor's side (DESIGN.md): implements net/api's GenerationService with
// messages. Each submitted request gets a small bridge actor that stands for the HTTP client —
// it asks the router for a replica node and that node for its scheduler, spawns the request
// actor, and relays chunks to the listener; cancelling kills the bridge, which the request actor
// takes as the client leaving. A watcher actor keeps the local node's latest health for /health
// and /metrics.
#include <chrono>
#include <memory>
#include <mutex>

#include "actors/request.hpp"
#include "net/api/generation_service.hpp"

namespace troupe {

class Front final : public api::GenerationService {
 public:
  // `node` is this process's spawn_node actor, whose health /health reports (refreshed on every
  // change and every `poll`); `router` a spawn_router actor that picks each request's node.
  // Without `local_replica` the node runs none, and /health says ready when some cluster node
  // is routable.
  Front(caf::actor_system& system, caf::actor node, caf::actor router,
        std::shared_ptr<const RequestContext> context, bool local_replica = true,
        std::chrono::milliseconds poll = std::chrono::milliseconds(500));
  ~Front() override;  // stops

  // Stops the health watcher, so the actor system can finish. Idempotent.
  void stop();

  std::function<void()> submit(GenerateRequest request,
                               std::shared_ptr<api::GenerationListener> listener) override;
  wire::HealthReport health() const override;
  wire::ClusterStatus cluster() const override;
  void cluster_now(std::function<void(wire::ClusterStatus)> done) override;
  void health_now(std::function<void(wire::HealthReport)> done) override;
  void drain_node(const std::string& name, std::function<void(bool)> done) override;
  void undrain_node(const std::string& name, std::function<void(api::UndrainResult)> done) override;

 private:
  struct HealthCache {
    mutable std::mutex mutex;
    wire::HealthReport latest;
    wire::ClusterStatus cluster;
  };
  // /health's report from the cache: a front without a local replica is ready while some
  // cluster node is routable.
  static wire::HealthReport cached_health(const HealthCache& cache, bool local_replica);
  caf::actor_system& system_;
  caf::actor node_;
  caf::actor router_;
  bool local_replica_;
  std::shared_ptr<const RequestContext> context_;
  std::shared_ptr<HealthCache> health_ = std::make_shared<HealthCache>();
  caf::actor watcher_;
};

}  // namespace troupe
