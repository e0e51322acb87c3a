#include "actors/scheduler.hpp"

#include <caf/all.hpp>

#include "actors/sender_checks.hpp"

#include <chrono>
#include <map>
#include <vector>

namespace troupe {
namespace {

struct LiveRequest {
  wire::EngineRequest request;
  caf::actor client;
  int tokens = 0;            // delivered so far
  int finished_samples = 0;  // of request.sampling.n
};

// An abort of the whole request, or of one of its samples (n > 1: it met a stop string).
struct Abort {
  std::string id;
  int32_t sample = -1;  // -1: the whole request
};

struct SchedulerState {
  SchedulerSetup setup;
  std::unique_ptr<StepPlanner> planner;
  caf::actor worker;
  std::map<std::string, LiveRequest> live;
  bool in_flight = false;
  std::vector<Abort> deferred_aborts;  // arrived while a step was in flight
  bool draining = false;
  std::vector<caf::response_promise> drain_waiters;
  std::chrono::steady_clock::time_point step_start;
  // Since this scheduler started, for the autoscaler: time in steps, and queue times.
  double busy_seconds = 0;
  double queue_seconds = 0;
  int64_t queued_requests = 0;
  std::vector<parallel::RankStats> tensor_parallel_ranks;  // as the worker last collected them
  static inline const char* name = "scheduler";
};

using Self = caf::stateful_actor<SchedulerState>;

void kick(Self* self);

void drop(Self* self, const std::string& id) {
  self->state.planner->abort(id);
  self->state.live.erase(id);
}

// One sample of a live request stops (it met a stop string); the request ends with its last.
void drop_sample(Self* self, const std::string& id, int32_t sample) {
  auto& s = self->state;
  auto it = s.live.find(id);
  if (it == s.live.end() || !s.planner->stop_sample(id, sample)) return;
  if (++it->second.finished_samples == it->second.request.sampling.n) s.live.erase(it);
}

bool sent_by_client_of(Self* self, const std::string& id) {
  auto it = self->state.live.find(id);
  return it != self->state.live.end() && self->current_sender() == it->second.client.address();
}

void apply(Self* self, const Abort& abort) {
  if (abort.sample < 0)
    drop(self, abort.id);
  else
    drop_sample(self, abort.id, abort.sample);
}

void take_deferred_aborts(Self* self) {
  for (const Abort& abort : self->state.deferred_aborts) apply(self, abort);
  self->state.deferred_aborts.clear();
}

void check_drained(Self* self) {
  auto& s = self->state;
  if (!s.draining || !s.live.empty()) return;
  for (auto& promise : s.drain_waiters) promise.deliver(drain_atom::value);
  s.drain_waiters.clear();
}

void publish_stats(Self* self, double step_seconds) {
  auto& s = self->state;
  if (!s.setup.stats_subscriber) return;
  const EngineStats e = s.planner->stats();
  self->send(
      s.setup.stats_subscriber,
      wire::ReplicaStats{s.setup.replica, e.running, e.waiting, e.kv_blocks_used, e.kv_blocks_free,
                         e.preemptions, e.prefix_cache_queries, e.prefix_cache_hits,
                         e.computed_tokens, step_seconds, s.busy_seconds, s.queue_seconds,
                         s.queued_requests, s.tensor_parallel_ranks});
}

// The worker is gone (it crashed, or its step failed): start over from the live requests.
void lose_worker(Self* self) {
  auto& s = self->state;
  if (!s.worker) return;
  self->demonitor(s.worker);
  s.worker = nullptr;
  s.in_flight = false;
  // Aborts that waited for the lost step end their requests here: started over, they would run
  // in the fresh planner with no client until their last token. (A sample's abort needs no
  // care: its request has tokens, so it fails below.)
  for (const Abort& abort : s.deferred_aborts)
    if (abort.sample < 0) s.live.erase(abort.id);
  s.deferred_aborts.clear();
  auto fresh = s.setup.make_planner();
  for (auto it = s.live.begin(); it != s.live.end();) {
    LiveRequest& r = it->second;
    if (r.tokens > 0) {
      self->send(r.client, RequestFailure{it->first, request_error::kWorkerFailed,
                                          "the model worker failed while generating this "
                                          "request; retry it"});
      it = s.live.erase(it);
      continue;
    }
    auto added =
        fresh->add_request(it->first, r.request.prompt, r.request.sampling, r.request.priority);
    if (!added) {  // cannot happen: it was accepted once under the same config
      self->send(r.client,
                 RequestFailure{it->first, request_error::kWorkerFailed, added.message()});
      it = s.live.erase(it);
      continue;
    }
    ++it;
  }
  s.planner = std::move(fresh);
  check_drained(self);
}

void take_result(Self* self, const StepResult& result) {
  auto& s = self->state;
  s.in_flight = false;
  if (!result.ranks.empty()) s.tensor_parallel_ranks = result.ranks;
  const StepOutput out = s.planner->complete(result);
  for (const SequenceUpdate& u : out.updates) {
    auto it = s.live.find(u.request_id);
    if (it == s.live.end()) continue;
    LiveRequest& r = it->second;
    const double queue_seconds =
        r.tokens == 0
            ? std::chrono::duration<double>(u.timings.first_scheduled - u.timings.arrival).count()
            : -1;
    if (queue_seconds >= 0) {
      s.queue_seconds += queue_seconds;
      ++s.queued_requests;
    }
    ++r.tokens;
    self->send(r.client, wire::TokenDelta{u.request_id, u.index, u.token, u.finish, queue_seconds,
                                          u.embedding});
    if (u.finish != FinishReason::none && ++r.finished_samples == r.request.sampling.n) {
      s.live.erase(it);
    }
  }
  take_deferred_aborts(self);
  const double step_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - s.step_start).count();
  s.busy_seconds += step_seconds;
  publish_stats(self, step_seconds);
  check_drained(self);
  kick(self);
}

// Starts the next step unless one is in flight or there is no worker.
void kick(Self* self) {
  auto& s = self->state;
  if (s.in_flight || !s.worker) return;
  StepPlan plan = s.planner->plan();
  if (plan.chunks.empty() && plan.added.empty() && plan.released.empty()) {
    s.planner->complete({});
    return;
  }
  s.in_flight = true;
  s.step_start = std::chrono::steady_clock::now();
  const caf::actor worker = s.worker;
  self->request(worker, caf::infinite, execute_atom::value, std::move(plan))
      .then([self](StepResult& result) { take_result(self, result); },
            [self, worker](caf::error&) {
              if (self->state.worker == worker) lose_worker(self);
            });
}

// Only the request actor that submitted a request may end it, or one of its samples; while a
// step is in flight the abort waits for its result.
void on_abort(Self* self, Abort abort) {
  auto& s = self->state;
  if (!sent_by_client_of(self, abort.id)) return;
  if (s.in_flight) {
    s.deferred_aborts.push_back(std::move(abort));
    return;
  }
  apply(self, abort);
  publish_stats(self, 0);
  check_drained(self);
  kick(self);
}

caf::behavior scheduler(Self* self, SchedulerSetup setup) {
  self->state.setup = std::move(setup);
  self->state.planner = self->state.setup.make_planner();
  if (self->state.setup.stats_subscriber) {
    self->delayed_send(self, self->state.setup.heartbeat, tick_atom::value);
  }
  self->set_down_handler([self](caf::down_msg& down) {
    auto& s = self->state;
    if (s.worker && down.source == s.worker.address()) return lose_worker(self);
    // A request actor went away: its requests are aborted, their blocks freed at once.
    std::vector<std::string> orphans;
    for (const auto& [id, r] : s.live) {
      if (r.client.address() == down.source) orphans.push_back(id);
    }
    for (const std::string& id : orphans) {
      if (s.in_flight) {
        s.deferred_aborts.push_back({id});
      } else {
        drop(self, id);
      }
    }
    if (!orphans.empty() && !s.in_flight) publish_stats(self, 0);
    check_drained(self);
    kick(self);
  });
  return {
      [self](submit_atom, wire::EngineRequest& request) -> SubmitReply {
        auto& s = self->state;
        if (s.draining) {
          return {false, request_error::kDraining, "the server is draining: try another replica"};
        }
        if (s.planner->stats().waiting >= s.setup.max_waiting) {
          return {false, request_error::kOverloaded,
                  "the waiting queue is full (" + std::to_string(s.setup.max_waiting) +
                      " requests): retry later"};
        }
        auto added = s.planner->add_request(request.request_id, request.prompt, request.sampling,
                                            request.priority);
        if (!added) return {false, request_error::kInvalid, added.message()};
        auto client = caf::actor_cast<caf::actor>(self->current_sender());
        self->monitor(client);
        std::string id = request.request_id;
        s.live.emplace(std::move(id), LiveRequest{std::move(request), client});
        kick(self);
        publish_stats(self, 0);  // the request counts on /metrics from now, not after a step
        return {true, "", ""};
      },
      [self](abort_atom, std::string& id) { on_abort(self, {std::move(id)}); },
      [self](abort_atom, std::string& id, int32_t sample) {
        on_abort(self, {std::move(id), sample});
      },
      // The replica's supervisor hands over each worker it starts; nobody else may.
      [self](worker_atom, caf::actor worker) {
        if (!sent_from_this_process(self)) return;
        auto& s = self->state;
        if (s.worker) self->demonitor(s.worker);
        s.worker = std::move(worker);
        self->monitor(s.worker);
        kick(self);
      },
      [self](tick_atom) {
        publish_stats(self, 0);
        self->delayed_send(self, self->state.setup.heartbeat, tick_atom::value);
      },
      [self](drain_atom) -> caf::result<drain_atom> {
        auto& s = self->state;
        s.draining = true;
        if (s.live.empty()) return drain_atom::value;
        s.drain_waiters.push_back(self->make_response_promise());
        return s.drain_waiters.back();
      },
  };
}

}  // namespace

caf::actor spawn_scheduler(caf::actor_system& system, SchedulerSetup setup) {
  return system.spawn(scheduler, std::move(setup));
}

}  // namespace troupe
