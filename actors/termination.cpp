#include "actors/termination.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <thread>

#include "actors/namespace_peers.hpp"

namespace troupe {
namespace {

// SIGTERM and SIGINT from people and the kubelet; kDrainSignal from this process itself when its
// front drains it (actors/cluster.cpp), which starts the same drain but is not a person's signal;
// kStopWatching from the drain to its signal watcher, when the drain is over.
constexpr int kStopWatching = SIGUSR2;

// The longest a drained container's main process waits for the preStop hook that drained it to
// finish: the hook's own bound (`timeout 10` in deploy/k8s/base/replicas.yaml).
constexpr auto kPreStopHookBound = std::chrono::seconds(10);

sigset_t signals(std::initializer_list<int> numbers) {
  sigset_t set;
  sigemptyset(&set);
  for (int n : numbers) sigaddset(&set, n);
  return set;
}

int wait_for_signal(std::initializer_list<int> numbers) {
  const sigset_t set = signals(numbers);
  int signal = 0;
  while (sigwait(&set, &signal) != 0) {
  }
  return signal;
}

}  // namespace

SignalWatcher::SignalWatcher(std::function<void(int)> on_signal)
    : thread_([on_signal = std::move(on_signal)] {
        for (;;) {
          const int signal = wait_for_signal({SIGTERM, SIGINT, kStopWatching});
          if (signal == kStopWatching) return;
          on_signal(signal);
        }
      }) {}

SignalWatcher::~SignalWatcher() {
  pthread_kill(thread_.native_handle(), kStopWatching);
  thread_.join();
}

DrainSignalWatcher::DrainSignalWatcher(bool by_front)
    : SignalWatcher([second_ends_it = !by_front](int) mutable {
        if (!second_ends_it) {
          spdlog::info("drain: signal received; the drain goes on");
          second_ends_it = true;
          return;
        }
        spdlog::warn("drain: a second signal; exiting at once with status 130");
        std::_Exit(130);  // the second signal: no more waiting
      }) {}

LoadSignalWatcher::LoadSignalWatcher()
    : SignalWatcher([](int signal) {
        // Not spdlog: this may run while the process's statics are being set up.
        std::fprintf(stderr, "troupe: %s while the model was loading; nothing to drain, exiting\n",
                     signal == SIGTERM ? "SIGTERM" : "SIGINT");
        std::fflush(stderr);
        std::_Exit(0);
      }) {}

void block_termination_signals() {
  const sigset_t set = signals({SIGTERM, SIGINT, kDrainSignal, kStopWatching});
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int drain_on_termination_signal(caf::actor_system& system, const caf::actor& node,
                                std::unique_ptr<DrainSignalWatcher>& watcher,
                                std::chrono::steady_clock::time_point* signalled,
                                const std::function<void()>& on_signal) {
  const bool by_front = wait_for_signal({SIGTERM, SIGINT, kDrainSignal}) == kDrainSignal;
  if (signalled) *signalled = std::chrono::steady_clock::now();
  if (on_signal) on_signal();
  spdlog::info("drain: {}; finishing the requests in flight",
               by_front ? "the front drains this node" : "signal received");
  watcher = std::make_unique<DrainSignalWatcher>(by_front);
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
  if (status == 0) spdlog::info("drain: every request finished; stopping");
  caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
  if (by_front && !outlive_namespace_peers(kPreStopHookBound)) {
    spdlog::warn("drain: other processes of this container still ran after {} s; exiting",
                 kPreStopHookBound.count());
  }
  return status;
}

}  // namespace troupe
