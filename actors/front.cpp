#include "actors/front.hpp"

#include "net/cluster/routing.hpp"

namespace troupe {
namespace {

struct BridgeState {
  std::shared_ptr<api::GenerationListener> listener;
  bool ended = false;
  static inline const char* name = "front-bridge";
};

constexpr auto kRouteTimeout = std::chrono::seconds(10);

// Stands for one HTTP client: asks the router for a replica node and that node for its
// scheduler, spawns the request actor, and relays its chunks and end to the listener. Whenever
// it stops (the end, or the client gone), the router learns the request left its node.
caf::behavior bridge(caf::stateful_actor<BridgeState>* self,
                     std::shared_ptr<const RequestContext> context, caf::actor router,
                     uint64_t prefix_key, GenerateRequest request,
                     std::shared_ptr<api::GenerationListener> listener) {
  self->state.listener = std::move(listener);
  auto routed_to = std::make_shared<std::string>();
  self->attach_functor([router, routed_to] {
    if (!routed_to->empty()) caf::anon_send(router, release_atom::value, *routed_to);
  });
  auto end_with = [self](GenerationEnd end) {
    if (self->state.ended) return;
    self->state.ended = true;
    self->state.listener->on_end(std::move(end));
    self->quit();
  };
  const std::string id = request.id;
  auto unavailable = [self, end_with, id](caf::error& error) {
    end_with(GenerationEnd{id, 0, 0, request_error::kUnavailable,
                           "no replica to serve the request: " + self->system().render(error)});
  };
  self->request(router, kRouteTimeout, route_atom::value, prefix_key, std::vector<std::string>{})
      .then(
          [self, context, routed_to, unavailable, request = std::move(request)](
              std::string& name, caf::actor& node) mutable {
            *routed_to = name;
            self->request(node, kRouteTimeout, scheduler_atom::value)
                .then(
                    [self, context, request = std::move(request)](caf::actor& scheduler) mutable {
                      spawn_request(self->system(), context, std::move(request), scheduler,
                                    caf::actor_cast<caf::actor>(self));
                    },
                    unavailable);
          },
          unavailable);
  return {
      [self](GenerationChunk& chunk) {
        if (!self->state.ended) self->state.listener->on_chunk(std::move(chunk));
      },
      [end_with](GenerationEnd& end) { end_with(std::move(end)); },
  };
}

// The start of the prompt, for prefix affinity: what requests sharing a system prompt share.
uint64_t request_prefix_key(const GenerateRequest& request) {
  std::string start;
  for (const ChatTurn& turn : request.messages) {
    start += turn.role + '\n' + turn.content + '\n';
    if (start.size() >= 512) break;
  }
  start += request.prompt.substr(0, 512);
  for (size_t i = 0; i < request.prompt_tokens.size() && i < 128; ++i) {
    start += std::to_string(request.prompt_tokens[i]) + ' ';
  }
  return cluster::prefix_key(start);
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

Front::Front(caf::actor_system& system, caf::actor node, caf::actor router,
             std::shared_ptr<const RequestContext> context, std::chrono::milliseconds poll)
    : system_(system),
      node_(std::move(node)),
      router_(std::move(router)),
      context_(std::move(context)) {
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
  const uint64_t key = request_prefix_key(request);
  auto handle =
      system_.spawn(bridge, context_, router_, key, std::move(request), std::move(listener));
  return [handle] { caf::anon_send_exit(handle, caf::exit_reason::user_shutdown); };
}

wire::HealthReport Front::health() const {
  std::lock_guard lock(health_->mutex);
  return health_->latest;
}

}  // namespace troupe
