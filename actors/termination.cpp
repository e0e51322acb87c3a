#include "actors/termination.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <thread>

namespace troupe {
namespace {

sigset_t termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

void wait_for_signal() {
  const sigset_t set = termination_signals();
  int signal = 0;
  while (sigwait(&set, &signal) != 0) {
  }
}

}  // namespace

void block_termination_signals() {
  const sigset_t set = termination_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int drain_on_termination_signal(caf::actor_system& system, const caf::actor& node,
                                std::chrono::steady_clock::time_point* signalled) {
  wait_for_signal();
  if (signalled) *signalled = std::chrono::steady_clock::now();
  spdlog::info("drain: signal received; finishing the requests in flight");
  std::thread([] {
    wait_for_signal();
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
