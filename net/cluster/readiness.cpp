#include "net/cluster/readiness.hpp"

#include <algorithm>
#include <tuple>

namespace troupe::cluster {

NodeReadiness::NodeReadiness(std::chrono::milliseconds stale_after)
    : stale_after_(stale_after), published_(report(TimePoint{})) {}  // no replica: time-free

void NodeReadiness::stats(wire::ReplicaStats stats, TimePoint now) {
  ReplicaHealth& r = replicas_[stats.replica];
  r.stats = std::move(stats);
  r.last_report = now;
}

void NodeReadiness::worker_status(const wire::WorkerStatus& status, TimePoint now) {
  ReplicaHealth& r = replicas_[status.replica];
  r.stats.replica = status.replica;
  r.worker_up = status.up;
  r.restarts = status.restarts;
  r.down_reason = status.reason;
  if (status.up) r.last_report = now;
}

wire::HealthReport NodeReadiness::report(TimePoint now) const {
  wire::HealthReport r;
  r.draining = draining_;
  for (const auto& [name, replica] : replicas_) {
    r.restarts += replica.restarts;
    r.replicas.push_back(replica.stats);
    if (replica.worker_up && now - replica.last_report < stale_after_) r.ready = true;
  }
  if (draining_) {
    r.ready = false;
    r.reason = "draining";
  } else if (!r.ready) {
    r.reason = replicas_.empty() ? "no replica has started yet"
                                 : "no replica has a running worker that reported recently";
  }
  return r;
}

std::optional<wire::HealthReport> NodeReadiness::to_publish(TimePoint now) {
  wire::HealthReport fresh = report(now);
  if (!worth_publishing(fresh, published_)) return std::nullopt;
  published_ = fresh;
  return fresh;
}

bool worth_publishing(const wire::HealthReport& fresh, const wire::HealthReport& published) {
  const auto key = [](const wire::HealthReport& r) {
    return std::tie(r.ready, r.draining, r.reason, r.restarts);
  };
  return key(fresh) != key(published);
}

wire::HealthReport routing_front_health(wire::HealthReport local,
                                        std::span<const wire::NodeStatus> nodes) {
  const bool any =
      std::any_of(nodes.begin(), nodes.end(), [](const wire::NodeStatus& n) { return n.routable; });
  local.ready = any && !local.draining;
  local.reason = any ? "" : "no cluster node is routable";
  return local;
}

}  // namespace troupe::cluster
