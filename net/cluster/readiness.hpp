#pragma once
// Whether a node admits requests (its health monitor's policy) and whether a routing front does
// (its /health), as pure functions of what they know, with time passed in.
//
// A node is ready while it is not draining and some replica has a running worker that reported
// within `stale_after`. Its subscribers (router, autoscaler, /health) hear a new report only
// when what they act on changed: readiness, draining, the reason, the restart count. A front
// without a local replica is ready while some cluster node is routable and it is not draining.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>

#include "net/wire/messages.hpp"

namespace troupe::cluster {

// One replica as its node's health monitor knows it.
struct ReplicaHealth {
  wire::ReplicaStats stats;
  std::chrono::steady_clock::time_point last_report{};  // its statistics, or its worker coming up
  bool worker_up = false;
  int32_t restarts = 0;
  std::string down_reason;  // why its worker last went down (not in the report yet)
};

class NodeReadiness {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // The default is HealthMonitorSetup's (an actor's state is built before its setup is known).
  explicit NodeReadiness(std::chrono::milliseconds stale_after = std::chrono::milliseconds(10000));

  // A replica's statistics (after each step, and on its scheduler's heartbeat).
  void stats(wire::ReplicaStats stats, TimePoint now);
  // Its supervisor's word: the worker is up (which counts as a report) or went down.
  void worker_status(const wire::WorkerStatus& status, TimePoint now);
  void drain() { draining_ = true; }

  wire::HealthReport report(TimePoint now) const;
  // The report at `now` when subscribers should hear it (it then counts as published); nullopt
  // when nothing they act on changed since the last one published.
  std::optional<wire::HealthReport> to_publish(TimePoint now);

  std::chrono::milliseconds stale_after() const { return stale_after_; }
  // Staleness shows only with time: look again twice per window.
  std::chrono::milliseconds recheck_every() const { return stale_after_ / 2; }

 private:
  std::chrono::milliseconds stale_after_;
  std::map<std::string, ReplicaHealth> replicas_;
  bool draining_ = false;
  wire::HealthReport published_;
};

// Whether subscribers act on the difference between two reports.
bool worth_publishing(const wire::HealthReport& fresh, const wire::HealthReport& published);

// A routing front's /health (no local replica): its own node's report, ready while some cluster
// node is routable and it is not draining.
wire::HealthReport routing_front_health(wire::HealthReport local,
                                        std::span<const wire::NodeStatus> nodes);

}  // namespace troupe::cluster
