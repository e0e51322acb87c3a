#include "actors/front.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <optional>

#include "net/cluster/failover.hpp"
#include "net/cluster/readiness.hpp"
#include "net/cluster/routing.hpp"
#include "net/metrics/latency_counts.hpp"

namespace troupe {
namespace {

constexpr auto kRouteTimeout = std::chrono::seconds(10);

using Clock = std::chrono::steady_clock;

// The current attempt as the router hears of it when it ends: its node, and the latency and
// failure the bridge saw there. Shared with the hook that releases it when the bridge stops.
struct Attempt {
  std::string node;  // empty before the route's answer, and once released
  Clock::time_point routed_at{};
  Clock::time_point last_chunk{};  // none yet: a default time point
  wire::ServedRequests served;

  void start(std::string on) {
    node = std::move(on);
    routed_at = Clock::now();
    last_chunk = {};
    served = metrics::no_requests_served();
  }
  // A chunk arrived: the attempt's first gives its time to first token, later ones the time
  // between chunks, as the gateway times its own.
  void chunk_arrived() {
    const auto now = Clock::now();
    const auto since = last_chunk == Clock::time_point{} ? routed_at : last_chunk;
    metrics::observe(
        last_chunk == Clock::time_point{} ? served.time_to_first_token : served.inter_token_latency,
        std::chrono::duration<double>(now - since).count());
    last_chunk = now;
  }
  // The attempt ended with `error` (a request_error code): counted failed when that is the
  // server's failure, not the client's or a drain's.
  void ended_with(std::string_view error) {
    if (metrics::is_server_failure(error)) served.failed = 1;
  }
  // The release message's node and measures, once; empty when there is nothing to release.
  std::optional<std::pair<std::string, wire::ServedRequests>> take() {
    if (node.empty()) return std::nullopt;
    served.attempts = 1;
    auto released = std::make_pair(std::move(node), std::move(served));
    node.clear();
    return released;
  }
};

struct BridgeState {
  std::shared_ptr<const RequestContext> context;
  caf::actor router;
  uint64_t prefix_key = 0;
  GenerateRequest request;  // kept to start it again elsewhere
  std::shared_ptr<api::GenerationListener> listener;
  std::vector<std::string> tried;                                  // nodes, in order
  std::shared_ptr<Attempt> current = std::make_shared<Attempt>();  // released at exit
  caf::actor running;     // the request actor of the current attempt
  int attempt = 0;        // answers to an earlier attempt's requests are ignored
  bool streamed = false;  // a chunk reached the client: the request can no longer move
  // What reached the client: an end the bridge makes up (its node lost mid-stream) bills it.
  int32_t relayed_prompt_tokens = 0, relayed_tokens = 0;
  bool ended = false;
  static inline const char* name = "front-bridge";
};

using Bridge = caf::stateful_actor<BridgeState>;

// Asks `target` once and hands its answer, or nullopt on an error or timeout, to `done` on an
// actor's thread: the caller (an HTTP thread) never waits.
template <class Answer, class... Message>
void ask_once(caf::actor_system& system, const caf::actor& target,
              std::chrono::milliseconds timeout, std::function<void(std::optional<Answer>)> done,
              Message... message) {
  system.spawn([=](caf::event_based_actor* self) {
    self->request(target, timeout, message...)
        .then([done](Answer& answer) { done(std::move(answer)); },
              [done](caf::error&) { done(std::nullopt); });
  });
}

// The router hears the current attempt ended, with its measures. Sent before the bridge quits:
// the router's monitor on the bridge fires before the bridge's own exit hooks would.
void release(Bridge* self) {
  if (auto released = self->state.current->take()) {
    self->send(self->state.router, release_atom::value, released->first, self->address(),
               released->second);
  }
}

void end_with(Bridge* self, GenerationEnd end) {
  if (self->state.ended) return;
  // CAF 0.17 keeps an observer's monitor on the observed actor after the observer ends.
  if (self->state.running) self->demonitor(self->state.running);
  end.prompt_tokens = std::max(end.prompt_tokens, self->state.relayed_prompt_tokens);
  end.completion_tokens = std::max(end.completion_tokens, self->state.relayed_tokens);
  self->state.current->ended_with(end.error);
  self->state.ended = true;
  self->state.listener->on_end(std::move(end));
  release(self);
  self->quit();
}

void start_on_next_node(Bridge* self);

cluster::AttemptHistory history(const BridgeState& s) {
  return {static_cast<int>(s.tried.size()), s.streamed};
}

// The attempt failed: start it on another node (net/cluster/failover's choice), or give up.
void retry_or_end(Bridge* self, GenerationEnd end) {
  auto& s = self->state;
  s.current->ended_with(end.error);
  if (cluster::after_failure(history(s)) == cluster::FailoverStep::retry_elsewhere) {
    release(self);
    if (s.running) caf::anon_send_exit(s.running, caf::exit_reason::user_shutdown);
    s.running = nullptr;
    start_on_next_node(self);
    return;
  }
  end_with(self, std::move(end));
}

// Asks the router for a node not tried yet, that node for its scheduler, and starts the request
// actor there with this bridge as its client.
void start_on_next_node(Bridge* self) {
  const int attempt = ++self->state.attempt;
  auto current = [self, attempt] { return self->state.attempt == attempt && !self->state.ended; };
  self->request(self->state.router, kRouteTimeout, route_atom::value, self->state.prefix_key,
                self->state.tried)
      .then(
          [self, current](std::string& name, caf::actor& node) {
            if (!current()) return;
            self->state.current->start(name);
            self->state.tried.push_back(name);
            self->request(node, kRouteTimeout, scheduler_atom::value)
                .then(
                    [self, current](caf::actor& scheduler) {
                      if (!current()) return;
                      self->state.running =
                          spawn_request(self->system(), self->state.context, self->state.request,
                                        scheduler, caf::actor_cast<caf::actor>(self));
                      self->monitor(self->state.running);  // an end without its answer
                    },
                    [self, current](caf::error& error) {  // the node went before it answered
                      if (!current()) return;
                      retry_or_end(
                          self,
                          GenerationEnd{self->state.request.id, 0, 0, request_error::kUnavailable,
                                        cluster::no_replica_message(self->system().render(error))});
                    });
          },
          [self, current](caf::error& error) {  // no routable node: nothing to retry on
            if (!current()) return;
            end_with(self,
                     GenerationEnd{self->state.request.id, 0, 0, request_error::kUnavailable,
                                   cluster::no_replica_message(self->system().render(error))});
          });
}

// Stands for one HTTP client: starts its request on a node the router picks and relays the
// chunks and the end to the listener. A request whose node fails before its first token starts
// again on another node (up to cluster::kMaxAttempts in all); one that had streamed ends with the
// error. Whenever the bridge stops (the end, or the client gone), the router learns the request
// left its node.
caf::behavior bridge(Bridge* self, std::shared_ptr<const RequestContext> context, caf::actor router,
                     uint64_t prefix_key, bool server_draining, GenerateRequest request,
                     std::shared_ptr<api::GenerationListener> listener) {
  auto& s = self->state;
  s.context = std::move(context);
  s.router = router;
  s.prefix_key = prefix_key;
  s.request = std::move(request);
  s.listener = std::move(listener);
  // The client went away (Front::submit's cancel): release with what was measured, then stop.
  self->set_exit_handler([self](caf::exit_msg& exit) {
    release(self);
    self->quit(exit.reason);
  });
  // Any other end (the actor system stopping): the router still hears of it.
  self->attach_functor([router, current = s.current, bridge = self->address()] {
    if (auto released = current->take()) {
      caf::anon_send(router, release_atom::value, released->first, bridge, released->second);
    }
  });
  if (server_draining) {
    end_with(self, GenerationEnd{s.request.id, 0, 0, request_error::kDraining,
                                 cluster::kServerDrainingMessage});
    return {};
  }
  // The current attempt's request actor ended without its answer (it threw): no token will
  // come from it. Its end, when it sent one, arrived before this.
  self->set_down_handler([self](caf::down_msg& down) {
    auto& s = self->state;
    if (s.ended || !s.running || down.source != s.running.address()) return;
    s.running = nullptr;
    retry_or_end(self, GenerationEnd{s.request.id, 0, 0, request_error::kUnavailable,
                                     "the request stopped without an answer: " +
                                         self->system().render(down.reason)});
  });
  start_on_next_node(self);
  // Only the current attempt's request actor speaks for the request: an earlier one, on a node
  // given up for lost, may still send if that node comes back.
  auto from_current = [self] {
    return self->state.running && self->current_sender() == self->state.running.address();
  };
  return {
      [self, from_current](GenerationChunk& chunk) {
        if (self->state.ended || !from_current()) return;
        self->state.current->chunk_arrived();
        self->state.streamed = true;
        self->state.relayed_prompt_tokens += chunk.prompt_tokens;
        self->state.relayed_tokens += static_cast<int32_t>(chunk.tokens.size());
        self->state.listener->on_chunk(std::move(chunk));
      },
      [self, from_current](GenerationEnd& end) {
        if (!from_current()) return;
        // A node that failed, or began draining after the router chose it: try another.
        if (cluster::is_node_failure(end.error)) return retry_or_end(self, std::move(end));
        end_with(self, std::move(end));
      },
      // The router lost the node this request runs on (its connection or its answers): no token
      // will come, whatever the request actor still waits for.
      [self](unreachable_atom, const std::string& node) {
        auto& s = self->state;
        if (s.ended) return;
        // The node the current attempt runs on: none between a release and the next route's
        // answer, when a loss already started this request elsewhere.
        switch (cluster::after_node_lost(history(s), node, s.current->node)) {
          case cluster::FailoverStep::ignore:
            return;
          case cluster::FailoverStep::wait_out_grace:
            // Its last tokens and its end may still be on their way: the stream is cut later.
            self->delayed_send(self, cluster::kStreamGrace, unreachable_atom::value, node,
                               s.attempt);
            return;
          default:
            retry_or_end(self, GenerationEnd{s.request.id, 0, 0, request_error::kUnavailable,
                                             cluster::node_lost_message(node)});
        }
      },
      [self](unreachable_atom, const std::string& node, int attempt) {
        auto& s = self->state;
        if (s.ended || cluster::after_grace(attempt, s.attempt) == cluster::FailoverStep::ignore) {
          return;
        }
        if (s.running) caf::anon_send_exit(s.running, caf::exit_reason::user_shutdown);
        end_with(self, GenerationEnd{s.request.id, 0, 0, request_error::kUnavailable,
                                     cluster::node_lost_message(node)});
      },
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

// Keeps the node's latest health (subscribed to every change, and polled, which also brings the
// replicas' fresh statistics for /metrics) and the router's view of the cluster (polled).
caf::behavior health_watcher(caf::event_based_actor* self, caf::actor node, caf::actor router,
                             std::chrono::milliseconds poll,
                             std::function<void(const wire::HealthReport&)> store_health,
                             std::function<void(const wire::ClusterStatus&)> store_cluster) {
  self->send(node, subscribe_atom::value);
  self->send(self, tick_atom::value);
  return {
      [store_health](wire::HealthReport& report) { store_health(report); },
      [self, node, router, poll, store_health, store_cluster](tick_atom) {
        self->request(node, poll, health_atom::value)
            .then([store_health](wire::HealthReport& report) { store_health(report); },
                  [](caf::error&) {});
        self->request(router, poll, status_atom::value)
            .then([store_cluster](wire::ClusterStatus& status) { store_cluster(status); },
                  [](caf::error&) {});
        self->delayed_send(self, poll, tick_atom::value);
      },
  };
}

}  // namespace

wire::HealthReport Front::cached_health(const HealthCache& cache, bool local_replica) {
  std::lock_guard lock(cache.mutex);
  if (local_replica) return cache.latest;
  // A routing front: ready while some node takes requests.
  return cluster::routing_front_health(cache.latest, cache.cluster.nodes);
}

Front::Front(caf::actor_system& system, caf::actor node, caf::actor router,
             std::shared_ptr<const RequestContext> context, bool local_replica,
             std::chrono::milliseconds poll)
    : system_(system),
      node_(std::move(node)),
      router_(std::move(router)),
      local_replica_(local_replica),
      context_(std::move(context)) {
  auto cache = health_;
  auto store_health = [cache](const wire::HealthReport& report) {
    std::lock_guard lock(cache->mutex);
    cache->latest = report;
  };
  auto store_cluster = [cache](const wire::ClusterStatus& status) {
    std::lock_guard lock(cache->mutex);
    cache->cluster = status;
  };
  watcher_ = system_.spawn(health_watcher, node_, router_, poll, std::move(store_health),
                           std::move(store_cluster));
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
  bool draining;  // this server is shutting down: no request starts anywhere
  {
    std::lock_guard lock(health_->mutex);
    draining = health_->latest.draining;
  }
  auto handle = system_.spawn(bridge, context_, router_, key, draining, std::move(request),
                              std::move(listener));
  return [handle] { caf::anon_send_exit(handle, caf::exit_reason::user_shutdown); };
}

wire::HealthReport Front::health() const {
  return cached_health(*health_, local_replica_);
}

void Front::health_now(std::function<void(wire::HealthReport)> done) {
  ask_once<wire::HealthReport>(
      system_, node_, std::chrono::seconds(1),
      [health = health_, local = local_replica_,
       done = std::move(done)](std::optional<wire::HealthReport> report) {
        if (report) {
          std::lock_guard lock(health->mutex);
          health->latest = std::move(*report);
        }
        done(cached_health(*health, local));  // the cached report stands when none came
      },
      health_atom::value);
}

void Front::cluster_now(std::function<void(wire::ClusterStatus)> done) {
  ask_once<wire::ClusterStatus>(
      system_, router_, std::chrono::seconds(1),
      [health = health_, done = std::move(done)](std::optional<wire::ClusterStatus> status) {
        wire::ClusterStatus current;
        {
          std::lock_guard lock(health->mutex);
          if (status) health->cluster = std::move(*status);
          current = health->cluster;  // the cached status stands when none came
        }
        done(std::move(current));
      },
      status_atom::value);
}

void Front::drain_node(const std::string& name, std::function<void(bool)> done) {
  ask_once<bool>(
      system_, router_, kRouteTimeout,
      [done = std::move(done)](std::optional<bool> known) { done(known.value_or(false)); },
      drain_atom::value, name);
}

void Front::undrain_node(const std::string& name, std::function<void(api::UndrainResult)> done) {
  ask_once<int32_t>(
      system_, router_, kRouteTimeout,
      [done = std::move(done)](std::optional<int32_t> answer) {
        done(answer ? static_cast<api::UndrainResult>(*answer) : api::UndrainResult::unknown);
      },
      undrain_atom::value, name);
}

wire::ClusterStatus Front::cluster() const {
  std::lock_guard lock(health_->mutex);
  return health_->cluster;
}

}  // namespace troupe
