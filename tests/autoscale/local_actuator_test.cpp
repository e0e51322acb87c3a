// The local actuator's count of replicas on their way, with real child processes standing in
// for `troupe worker` (a shell that waits): a replica counts as on its way until the router
// routes to it, joined or not, and one that is not ready for ready_timeout is given up.
#include <signal.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>

#include "autoscale/actuators/local_actuator.hpp"

using namespace troupe::autoscale;
using namespace std::chrono_literals;

namespace {

LocalActuatorSetup waiting_shells() {
  // The actuator appends `--node-name NAME`: the shell's positional parameters.
  return {.program = "/bin/sh",
          .worker_args = {"-c", "exec sleep 600", "sh"},
          .name_prefix = "replica-",
          .stop_grace = 5s};
}

Decision grow(int32_t from, int32_t to) {
  Decision d;
  d.current = from;
  d.desired = to;
  return d;
}

}  // namespace

TEST_CASE("a replica counts as on its way until the router routes to it, joined or not") {
  LocalActuator actuator(waiting_shells());
  const TimePoint asked{};
  REQUIRE(actuator.scale(grow(0, 1), {}, asked));
  REQUIRE(actuator.live_processes().size() == 1);

  // Not connected yet, then connected and not routable (the autoscaler passes only the ready):
  // on its way both times, since it was asked for.
  CHECK(actuator.starting({}, {}, asked + 10s) == std::vector<TimePoint>{asked});
  CHECK(actuator.starting({"some-other-node"}, {}, asked + 20s) == std::vector<TimePoint>{asked});

  // Ready: it is a replica, not one on its way.
  CHECK(actuator.starting({"replica-1"}, {}, asked + 30s).empty());

  // Out of routing again: on its way from the moment it was seen missing.
  CHECK(actuator.starting({}, {}, asked + 40s) == std::vector<TimePoint>{asked + 40s});
  CHECK(actuator.starting({}, {}, asked + 50s) == std::vector<TimePoint>{asked + 40s});

  // Within ready_timeout nothing is given up; after it, the replica is told to drain and stop.
  const pid_t pid = actuator.live_processes().at(0);
  actuator.give_up(asked + 40s);
  CHECK(waitpid(pid, nullptr, WNOHANG) == 0);
  actuator.give_up(asked + 41s);
  CHECK(actuator.starting({}, {}, asked + 60s).empty());
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WTERMSIG(status) == SIGTERM);
}

TEST_CASE("a replica that joins but never becomes ready is given up after ready_timeout") {
  LocalActuator actuator(waiting_shells());
  const TimePoint asked{};
  REQUIRE(actuator.scale(grow(0, 1), {}, asked));
  const pid_t pid = actuator.live_processes().at(0);

  actuator.give_up(asked);  // not before it was asked for
  CHECK(kill(pid, 0) == 0);
  actuator.give_up(asked + 1ms);
  CHECK(actuator.starting({}, {}, asked + 1s).empty());
  // Killed: it serves nothing, and a loading worker would not read SIGTERM yet.
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  actuator.starting({}, {}, asked + 2s);  // reaps
  CHECK(actuator.live_processes().empty());
}

TEST_CASE("a draining replica is on its way out: not counted, never given up") {
  LocalActuator actuator(waiting_shells());
  const TimePoint asked{};
  REQUIRE(actuator.scale(grow(0, 1), {}, asked));
  const pid_t pid = actuator.live_processes().at(0);
  CHECK(actuator.starting({"replica-1"}, {}, asked + 1s).empty());
  // An operator drains it (out of routing while its requests finish).
  CHECK(actuator.starting({}, {"replica-1"}, asked + 2s).empty());
  actuator.give_up(asked + 1h);
  CHECK(waitpid(pid, nullptr, WNOHANG) == 0);  // still running: it exits when it has drained
  CHECK(actuator.starting({}, {}, asked + 2h).empty());
}

TEST_CASE("only its own ready replicas are chosen to leave, the newest first") {
  LocalActuator actuator(waiting_shells());
  const TimePoint asked{};
  REQUIRE(actuator.scale(grow(0, 1), {}, asked));
  REQUIRE(actuator.scale(grow(1, 2), {}, asked + 1s));
  REQUIRE(actuator.scale(grow(2, 3), {}, asked + 2s));
  Decision shrink;
  shrink.current = 4;
  shrink.desired = 3;
  // replica-3 is the newest but not ready; "front" is not one it started.
  auto leaving = actuator.scale(shrink, {"front", "replica-1", "replica-2"}, asked + 3s);
  REQUIRE(leaving);
  CHECK(*leaving == std::vector<std::string>{"replica-2"});
  // A leaving replica is not on its way: only replica-3 is.
  CHECK(actuator.starting({"front", "replica-1"}, {}, asked + 4s) ==
        std::vector<TimePoint>{asked + 2s});
}
