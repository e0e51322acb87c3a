#pragma once
// SIGTERM and SIGINT as a graceful drain: the first signal drains the node (no new requests,
// in-flight ones finish, up to its drain timeout) and the process then exits 0; a second
// signal exits at once. Signals are taken synchronously by sigwait, so nothing runs in a signal
// handler. A front that drains a replica node raises kDrainSignal in it: the same drain, after
// which the kubelet's SIGTERM (a pod being deleted) is not yet the second signal.
#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <thread>

#include "actors/messages.hpp"

namespace troupe {

inline constexpr int kDrainSignal = SIGUSR1;

// Blocks SIGTERM, SIGINT, kDrainSignal and SIGUSR2 (the drain's own, to stop its signal watcher)
// in the calling thread and every thread started after it: call it first in main, before the
// actor system exists.
void block_termination_signals();

// A thread that takes SIGTERM and SIGINT, calling on_signal(signal) for each, from construction
// until destroyed (which stops and joins it). Destruction must come before the process's
// statics go: a watcher left running then could log through a destroyed spdlog.
class SignalWatcher {
 public:
  explicit SignalWatcher(std::function<void(int)> on_signal);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  std::thread thread_;
};

// People's signals once a drain has begun: after the front's drain the first one (the kubelet's
// SIGTERM as a pod is deleted) only says so; a second ends the process at once with status 130.
class DrainSignalWatcher : public SignalWatcher {
 public:
  explicit DrainSignalWatcher(bool by_front);
};

// People's signals while the model loads, before there is anything to drain: the first one
// ends the process at once, status 0, with one line on stderr (a large model loads for minutes,
// and the kubelet would otherwise wait out its grace period and kill it). A signal after the
// watcher is destroyed waits, blocked, for drain_on_termination_signal.
class LoadSignalWatcher : public SignalWatcher {
 public:
  LoadSignalWatcher();
};

// Waits for the first signal, starts `watcher` (kept by the caller until the process is done:
// a front still waits for requests on other nodes after this returns), drains `node` (see
// spawn_node) and returns the process's exit code: 0 when the drain finished in time, 1 when its
// timeout cut it short. `signalled`, when given, is set to the time the first signal came (a
// front's own wait for requests on other nodes counts from it); `on_signal`, when given, runs
// then, before the drain. After a drain its front started,
// a container's main process waits, before returning, up to 10 s for the container's other
// processes: the preStop hook that asked for the drain (actors/namespace_peers.hpp).
int drain_on_termination_signal(caf::actor_system& system, const caf::actor& node,
                                std::unique_ptr<DrainSignalWatcher>& watcher,
                                std::chrono::steady_clock::time_point* signalled = nullptr,
                                const std::function<void()>& on_signal = {});

}  // namespace troupe
