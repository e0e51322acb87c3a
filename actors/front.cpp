#include "actors/front.hpp"

namespace troupe {
namespace {

struct BridgeState {
  std::shared_ptr<api::GenerationListener> listener;
  bool ended = false;
  static inline const char* name = "front-bridge";
};

// Stands for one HTTP client: relays its request's chunks and end to the listener.
caf::behavior bridge(caf::stateful_actor<BridgeState>* self,
                     std::shared_ptr<const RequestContext> context, caf::actor node,
                     GenerateRequest request, std::shared_ptr<api::GenerationListener> listener) {
  self->state.listener = std::move(listener);
  auto end_with = [self](GenerationEnd end) {
    if (self->state.ended) return;
    self->state.ended = true;
    self->state.listener->on_end(std::move(end));
    self->quit();
  };
  const std::string id = request.id;
  self->request(node, std::chrono::seconds(10), scheduler_atom::value)
      .then(
          [self, context, request = std::move(request)](caf::actor& scheduler) mutable {
            spawn_request(self->system(), context, std::move(request), scheduler,
                          caf::actor_cast<caf::actor>(self));
          },
          [self, end_with, id](caf::error& error) {
            end_with(
                GenerationEnd{id, 0, 0, request_error::kUnavailable,
                              "no replica to serve the request: " + self->system().render(error)});
          });
  return {
      [self](GenerationChunk& chunk) {
        if (!self->state.ended) self->state.listener->on_chunk(std::move(chunk));
      },
      [end_with](GenerationEnd& end) { end_with(std::move(end)); },
  };
}

// Keeps the node's latest health: subscribed to every change, and polled (which also brings the
// replicas' fresh statistics for /metrics).
caf::behavior health_watcher(caf::event_based_actor* self, caf::actor node,
                             std::chrono::milliseconds poll,
                             std::function<void(const wire::HealthReport&)> store) {
  self->send(node, subscribe_atom::value);
  self->send(self, heartbeat_atom::value);
  return {
      [store](wire::HealthReport& report) { store(report); },
      [self, node, poll, store](heartbeat_atom) {
        self->request(node, poll, health_atom::value)
            .then([store](wire::HealthReport& report) { store(report); }, [](caf::error&) {});
        self->delayed_send(self, poll, heartbeat_atom::value);
      },
  };
}

}  // namespace

Front::Front(caf::actor_system& system, caf::actor node,
             std::shared_ptr<const RequestContext> context, std::chrono::milliseconds poll)
    : system_(system), node_(std::move(node)), context_(std::move(context)) {
  auto cache = health_;
  auto store = [cache](const wire::HealthReport& report) {
    std::lock_guard lock(cache->mutex);
    cache->latest = report;
  };
  watcher_ = system_.spawn(health_watcher, node_, poll, std::move(store));
}

Front::~Front() {
  stop();
}

void Front::stop() {
  if (watcher_) caf::anon_send_exit(watcher_, caf::exit_reason::user_shutdown);
  watcher_ = nullptr;
}

std::function<void()> Front::submit(GenerateRequest request,
                                    std::shared_ptr<api::GenerationListener> listener) {
  auto handle = system_.spawn(bridge, context_, node_, std::move(request), std::move(listener));
  return [handle] { caf::anon_send_exit(handle, caf::exit_reason::user_shutdown); };
}

wire::HealthReport Front::health() const {
  std::lock_guard lock(health_->mutex);
  return health_->latest;
}

}  // namespace troupe
