#include "net/cluster/failover.hpp"

#include <algorithm>

#include "engine/serve/generate_request.hpp"

namespace troupe::cluster {

bool is_node_failure(std::string_view error) {
  return error == request_error::kUnavailable || error == request_error::kWorkerFailed ||
         error == request_error::kDraining;
}

FailoverStep after_failure(const AttemptHistory& history) {
  if (!history.streamed && history.attempts < kMaxAttempts) return FailoverStep::retry_elsewhere;
  return FailoverStep::end;
}

FailoverStep after_end(const AttemptHistory& history, std::string_view error) {
  return is_node_failure(error) ? after_failure(history) : FailoverStep::end;
}

FailoverStep after_node_lost(const AttemptHistory& history, std::string_view lost_node,
                             std::string_view current_node) {
  if (current_node.empty() || current_node != lost_node) return FailoverStep::ignore;
  if (history.streamed) return FailoverStep::wait_out_grace;
  return after_failure(history);
}

FailoverStep after_grace(int attempt_at_loss, int current_attempt) {
  return attempt_at_loss == current_attempt ? FailoverStep::end : FailoverStep::ignore;
}

TimePoint stream_cut_at(TimePoint lost_at) {
  return lost_at + kStreamGrace;
}

std::string no_replica_message(std::string_view why) {
  return "no replica to serve the request: " + std::string(why);
}

std::string node_lost_message(std::string_view node) {
  return "the node serving this request (" + std::string(node) + ") stopped answering";
}

std::chrono::milliseconds next_backoff(const RestartBackoff& policy,
                                       std::chrono::milliseconds previous, TimePoint worker_started,
                                       TimePoint now) {
  if (now - worker_started >= policy.stable_after) previous = {};  // it had recovered
  return previous.count() == 0 ? policy.first : std::min(previous * 2, policy.max);
}

std::chrono::milliseconds backoff_for_restart(const RestartBackoff& policy, int n) {
  std::chrono::milliseconds wait = policy.first;
  // Past 63 doublings any wait has long reached its maximum.
  for (int i = 1; i < n && i < 64; ++i) wait = std::min(wait * 2, policy.max);
  return wait;
}

RestartPlan restart_plan(ReplicaPart crashed, bool worker_running) {
  if (crashed == ReplicaPart::worker) return {false, false, true};
  return {worker_running, true, true};
}

}  // namespace troupe::cluster
