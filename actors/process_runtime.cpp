#include "actors/process_runtime.hpp"

#include <spdlog/spdlog.h>

#include <caf/all.hpp>
#include <stdexcept>
#include <thread>

#include "actors/front.hpp"
#include "actors/termination.hpp"

namespace troupe {

struct ProcessRuntime::Actors {
  static caf::actor_system_config& configured(caf::actor_system_config& config,
                                              const Options& options) {
    configure_actor_system(config);
    if (options.cluster_networking) enable_cluster_networking(config, options.credentials);
    return config;
  }

  explicit Actors(const Options& options) : system(configured(config, options)) {}

  void stop_all() {
    stop_autoscaler();
    if (front) front->stop();
    for (const caf::actor& actor : {member, node, router}) {
      if (actor) caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    }
  }

  // Its actuator stops the replicas it started (they drain) as the actor ends.
  void stop_autoscaler() {
    if (!autoscaler) return;
    caf::anon_send_exit(autoscaler, caf::exit_reason::user_shutdown);
    autoscaler = nullptr;
  }

  // Watches people's signals from the drain's start until the runtime goes (after the actors).
  std::unique_ptr<DrainSignalWatcher> signal_watcher;
  caf::actor_system_config config;
  caf::actor_system system;
  caf::actor node, router, member, autoscaler;
  std::unique_ptr<Front> front;
};

ProcessRuntime::ProcessRuntime(const Options& options)
    : actors_(std::make_unique<Actors>(options)) {}

ProcessRuntime::~ProcessRuntime() {
  actors_->stop_all();
  actors_->front.reset();
  actors_->system.await_all_actors_done();
}

void ProcessRuntime::start_node(NodeSetup setup) {
  actors_->node = spawn_node(actors_->system, std::move(setup));
}

Status ProcessRuntime::start_router(RouterSetup setup,
                                    const std::optional<wire::JoinRequest>& local) {
  actors_->router = spawn_router(actors_->system, std::move(setup));
  if (!local) return Ok{};
  return join_router(actors_->system, actors_->router, *local, actors_->node);
}

Result<uint16_t> ProcessRuntime::publish_router(const std::string& host, uint16_t port) {
  return troupe::publish_router(actors_->system, actors_->router, host, port);
}

api::GenerationService& ProcessRuntime::start_front(std::shared_ptr<const RequestContext> context,
                                                    bool local_replica) {
  actors_->front = std::make_unique<Front>(actors_->system, actors_->node, actors_->router,
                                           std::move(context), local_replica);
  return *actors_->front;
}

void ProcessRuntime::start_autoscaler(AutoscalerSetup setup) {
  actors_->autoscaler = spawn_autoscaler(actors_->system, actors_->router, std::move(setup));
}

void ProcessRuntime::join_cluster(MemberSetup setup) {
  setup.node = actors_->node;
  actors_->member = spawn_cluster_member(actors_->system, std::move(setup));
}

void ProcessRuntime::node_health(std::function<void(wire::HealthReport)> done) {
  actors_->system.spawn(
      [node = actors_->node, done = std::move(done)](caf::event_based_actor* self) {
        self->request(node, std::chrono::seconds(1), health_atom::value)
            .then([done](wire::HealthReport& report) { done(std::move(report)); },
                  [done](caf::error&) {
                    wire::HealthReport silent;
                    silent.reason = "the node did not answer";
                    done(std::move(silent));
                  });
      });
}

int ProcessRuntime::drain_on_termination_signal(std::chrono::steady_clock::time_point* signalled) {
  // The autoscaler stops as the drain starts: the draining front's own node leaves the routable
  // ones, which it would otherwise replace with a replica started now. The replicas it started
  // drain alongside.
  return troupe::drain_on_termination_signal(actors_->system, actors_->node,
                                             actors_->signal_watcher, signalled,
                                             [this] { actors_->stop_autoscaler(); });
}

int ProcessRuntime::shut_down_front(int drain_status,
                                    std::chrono::steady_clock::time_point deadline,
                                    const api::Gateway& gateway, http::Server& server) {
  constexpr auto kGrace = std::chrono::seconds(5);
  auto wait_for_calls = [&](std::chrono::steady_clock::time_point until) {
    while (gateway.calls_in_flight() > 0 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return gateway.calls_in_flight() == 0;
  };
  const bool drained = drain_status == 0;
  bool finished = true;
  int cut = 0;  // requests still running when the wait ended
  if (drained) {
    finished = wait_for_calls(std::max(deadline, std::chrono::steady_clock::now() + kGrace));
    cut = gateway.calls_in_flight();
  }
  caf::anon_send_exit(actors_->node, caf::exit_reason::user_shutdown);
  if (!drained) wait_for_calls(std::chrono::steady_clock::now() + kGrace);
  server.stop(kGrace);
  actors_->stop_all();
  actors_->system.await_all_actors_done();
  if (!drained) return drain_status;
  if (!finished) {
    spdlog::warn(
        "drain: --drain-timeout passed with {} request(s) routed to other nodes still running; "
        "they are cut off and the process exits with status 1",
        cut);
  }
  return finished ? 0 : 1;
}

}  // namespace troupe
