#pragma once
// What carries an autoscaling decision out: starts replicas, picks the ones that leave, and
// says which replicas it started are still on their way. A replica leaves by draining (the
// autoscaler drains it through the router: out of routing at once, its requests finish), never
// by being killed. Calls may block (processes, an API server): the autoscaler actor runs
// detached.
#include <string>
#include <vector>

#include "autoscale/cluster_sample.hpp"
#include "autoscale/policy.hpp"
#include "engine/result.hpp"

namespace troupe::autoscale {

class Actuator {
 public:
  virtual ~Actuator() = default;

  // "local", "kubernetes": for logs, /metrics and troupe status.
  virtual std::string mode() const = 0;

  // The replicas asked for that the router does not route to yet (joined or not), with since
  // when each has been missing. `ready`: the connected nodes the router routes to; `draining`:
  // the connected nodes draining (by the autoscaler or an operator), which are on their way out.
  virtual std::vector<TimePoint> starting(const std::vector<std::string>& ready,
                                          const std::vector<std::string>& draining,
                                          TimePoint now) = 0;

  // Carries out `decision` (desired != current): starts replicas, or picks which of `ready`
  // leave. Returns the nodes the autoscaler drains (empty when growing), or why it cannot.
  virtual Result<std::vector<std::string>> scale(const Decision& decision,
                                                 const std::vector<std::string>& ready,
                                                 TimePoint now) = 0;

  // Replicas not ready since before `unready_before`: stop counting on them (the policy asks
  // for a replacement). Nothing to do where something else restarts them.
  virtual void give_up(TimePoint unready_before) {}

  // The router did not take `node` out of routing: it may be chosen to leave again.
  virtual void drain_failed(const std::string& node) {}
};

}  // namespace troupe::autoscale
