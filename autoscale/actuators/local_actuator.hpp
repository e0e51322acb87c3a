#pragma once
// The local actuator: replicas are `troupe worker --join` processes on this host. It starts
// them (each asks the kernel for SIGTERM should the front die), removes them by draining (the
// router tells the member, which sends its own process SIGTERM: requests in flight finish),
// reaps those that exited, and gives up on one that has not been ready for the policy's
// ready_timeout: one that never became ready is killed (a worker still loading does not read
// SIGTERM yet), one that stopped being ready is told to drain and stop (SIGTERM). A replica
// seen draining (the autoscaler's drain, or an operator's) is on its way out: not counted, never
// given up. Only the processes it started are ever chosen to leave.
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "autoscale/actuators/actuator.hpp"

namespace troupe::autoscale {

struct LocalActuatorSetup {
  std::string program;                          // the troupe binary (/proc/self/exe)
  std::vector<std::string> worker_args;         // `worker --join HOST:PORT --model ...`, no name
  std::string name_prefix;                      // a replica is named prefix + number
  std::chrono::milliseconds stop_grace{30000};  // at shutdown: SIGTERM, then this, then SIGKILL
};

class LocalActuator final : public Actuator {
 public:
  explicit LocalActuator(LocalActuatorSetup setup);
  // Stops every replica it started (SIGTERM: they drain) and waits for them.
  ~LocalActuator() override;

  std::string mode() const override { return "local"; }
  std::vector<TimePoint> starting(const std::vector<std::string>& ready,
                                  const std::vector<std::string>& draining, TimePoint now) override;
  Result<std::vector<std::string>> scale(const Decision& decision,
                                         const std::vector<std::string>& ready,
                                         TimePoint now) override;
  void give_up(TimePoint unready_before) override;
  void drain_failed(const std::string& node) override;

  // The processes it started that have not exited, for tests and logs.
  std::vector<pid_t> live_processes() const;

 private:
  struct Replica {
    std::string name;
    pid_t pid = -1;
    TimePoint asked_at{};
    // Since when the router has not routed to it: counted as on its way until it is ready
    // again, given up after ready_timeout. Empty while it is ready.
    std::optional<TimePoint> unready_since;
    bool was_ready = false;
    bool leaving = false;  // drained, or told to stop
  };
  Result<pid_t> start(const std::string& name);
  void reap();

  LocalActuatorSetup setup_;
  std::vector<Replica> replicas_;
  int next_number_ = 1;
};

}  // namespace troupe::autoscale
