#include "actors/termination.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <thread>

namespace troupe {
namespace {

// SIGTERM and SIGINT from people and the kubelet; kDrainSignal from this process itself when its
// front drains it (actors/cluster.cpp), which starts the same drain but is not a person's signal.
sigset_t signals(bool with_drain_signal) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  if (with_drain_signal) sigaddset(&set, kDrainSignal);
  return set;
}

int wait_for_signal(bool with_drain_signal) {
  const sigset_t set = signals(with_drain_signal);
  int signal = 0;
  while (sigwait(&set, &signal) != 0) {
  }
  return signal;
}

}  // namespace

void block_termination_signals() {
  const sigset_t set = signals(true);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int drain_on_termination_signal(caf::actor_system& system, const caf::actor& node,
                                std::chrono::steady_clock::time_point* signalled) {
  const bool by_front = wait_for_signal(true) == kDrainSignal;
  if (signalled) *signalled = std::chrono::steady_clock::now();
  spdlog::info("drain: {}; finishing the requests in flight",
               by_front ? "the front drains this node" : "signal received");
  // A person's second signal ends the process at once. After the front's drain, the first
  // SIGTERM (the kubelet's, as a pod is deleted) is not a second one: the drain goes on.
  std::thread([by_front] {
    if (by_front) {
      wait_for_signal(false);
      spdlog::info("drain: signal received; the drain goes on");
    }
    wait_for_signal(false);
    spdlog::warn("drain: a second signal; exiting at once with status 130");
    std::_Exit(130);  // the second signal: no more waiting
  }).detach();
  caf::scoped_actor self{system};
  int status = 1;
  self->request(node, caf::infinite, drain_atom::value)
      .receive([&](drain_atom, bool in_time) { status = in_time ? 0 : 1; },
               [&](caf::error&) { status = 1; });
  if (status != 0) {
    int running = -1;  // unknown when the node does not answer
    self->request(node, std::chrono::seconds(1), health_atom::value)
        .receive(
            [&](wire::HealthReport& report) {
              running = 0;
              for (const auto& r : report.replicas) running += r.running + r.waiting;
            },
            [](caf::error&) {});
    spdlog::warn(
        "drain: --drain-timeout passed with {} request(s) still running on this node; they are "
        "cut off with an error and the process exits with status 1",
        running < 0 ? std::string("some") : std::to_string(running));
  }
  caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
  return status;
}

}  // namespace troupe
