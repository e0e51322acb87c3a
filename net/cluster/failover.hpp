#pragma once
// Failover, as pure policy over plain data with time passed in: when a request whose node
// failed starts again on another node (the front's bridge), how long a stream whose node was
// lost may still finish, and how a replica restarts what crashed (its supervisor).
//
// A request moves only while nothing has streamed: once a client has tokens, another node would
// start the answer over. It is started on at most kMaxAttempts nodes.
#include <chrono>
#include <string>
#include <string_view>

namespace troupe::cluster {

using TimePoint = std::chrono::steady_clock::time_point;

// Nodes a request may be started on: the first, then others when a node fails before the
// request's first token.
inline constexpr int kMaxAttempts = 3;
// How long a stream whose node was lost may still finish: its last tokens and its end may still
// be on their way (a drained node exits right after them).
inline constexpr std::chrono::milliseconds kStreamGrace{1000};

// Where a request stands.
struct AttemptHistory {
  int attempts = 0;       // nodes it was routed to, the current one included
  bool streamed = false;  // a chunk reached the client
};

enum class FailoverStep {
  ignore,           // not about the current attempt
  retry_elsewhere,  // start it on a node not tried yet
  end,              // end it: with the failure's error, or as its end came when not a failure
  wait_out_grace,   // its node was lost mid-stream: end it kStreamGrace later unless it ends first
};

// Whether an attempt's end (a request_error code) says its node failed rather than the request:
// unavailable, worker_failed, or draining (the node began draining after the router chose it).
bool is_node_failure(std::string_view error);

// The current attempt failed (its node failed, or went before it answered): another node while
// nothing has streamed and attempts remain, else the end.
FailoverStep after_failure(const AttemptHistory& history);
// The current attempt ended with `error` (empty: it completed): a node failure fails over, any
// other end ends the request.
FailoverStep after_end(const AttemptHistory& history, std::string_view error);
// The router lost `lost_node`. `current_node` runs the current attempt (empty before the first
// route answer). Mid-stream the stream gets its grace; before it, the request fails over.
FailoverStep after_node_lost(const AttemptHistory& history, std::string_view lost_node,
                             std::string_view current_node);
// A grace set during attempt `attempt_at_loss` is over in `current_attempt`: the stream is cut
// (end) unless another attempt began since.
FailoverStep after_grace(int attempt_at_loss, int current_attempt);
// When the grace of a node lost at `lost_at` is over.
TimePoint stream_cut_at(TimePoint lost_at);

// The ends a failover gives, worded as the front gives them today.
std::string no_replica_message(std::string_view why);  // no node, or it went first
std::string node_lost_message(std::string_view node);  // its node stopped answering
inline constexpr const char* kServerDrainingMessage = "the server is draining: try another replica";

// A replica supervisor's restart backoff: exponential from `first`, doubling on each crash up
// to `max`, starting over once a worker stayed up `stable_after`.
struct RestartBackoff {
  std::chrono::milliseconds first{100};
  std::chrono::milliseconds max{10000};
  std::chrono::milliseconds stable_after{30000};
};

// The wait before restarting a worker that started at `worker_started` and crashed at `now`,
// given the previous wait (0: none yet).
std::chrono::milliseconds next_backoff(const RestartBackoff& policy,
                                       std::chrono::milliseconds previous, TimePoint worker_started,
                                       TimePoint now);
// The wait before restart `n` (1-based) in a run of crashes none of which stayed up
// stable_after: the closed form of next_backoff.
std::chrono::milliseconds backoff_for_restart(const RestartBackoff& policy, int n);

enum class ReplicaPart { worker, scheduler };

// What a crash restarts. A worker crash: the worker, after the backoff (the scheduler re-queues
// the requests that had no token yet). A scheduler crash: the scheduler at once and the worker
// after the backoff, the running worker stopped first (it holds state for the dead scheduler's
// sequences).
struct RestartPlan {
  bool stop_worker = false;
  bool start_scheduler_now = false;
  bool start_worker_after_backoff = true;
  bool operator==(const RestartPlan&) const = default;
};
RestartPlan restart_plan(ReplicaPart crashed, bool worker_running);

}  // namespace troupe::cluster
