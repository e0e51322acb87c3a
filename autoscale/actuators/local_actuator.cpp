#include "autoscale/actuators/local_actuator.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

namespace troupe::autoscale {

LocalActuator::LocalActuator(LocalActuatorSetup setup) : setup_(std::move(setup)) {}

LocalActuator::~LocalActuator() {
  reap();
  for (Replica& r : replicas_) {
    r.leaving = true;
    kill(r.pid, SIGTERM);  // it drains, then exits
  }
  const auto deadline = std::chrono::steady_clock::now() + setup_.stop_grace;
  while (!replicas_.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // not a test: a shutdown poll
    reap();
  }
  for (const Replica& r : replicas_) {
    spdlog::warn("autoscaler: replica {} (pid {}) did not stop in time; killing it", r.name, r.pid);
    kill(r.pid, SIGKILL);
    waitpid(r.pid, nullptr, 0);
  }
}

Result<pid_t> LocalActuator::start(const std::string& name) {
  // Everything the child needs is made before fork: after it, only async-signal-safe calls.
  std::vector<std::string> args{setup_.program};
  args.insert(args.end(), setup_.worker_args.begin(), setup_.worker_args.end());
  args.insert(args.end(), {"--node-name", name});
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  // The front's environment, less its settings file (TROUPE_CONFIG): that file is the front's,
  // and its settings reach the replica as the flags above.
  std::vector<char*> envp;
  for (char** variable = environ; *variable; ++variable) {
    if (std::strncmp(*variable, "TROUPE_CONFIG=", 14) != 0) envp.push_back(*variable);
  }
  envp.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0)
    return make_error(std::string("cannot start a replica: fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Should the front die, the replica is told to drain and stop (SIGTERM) by the kernel.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    // The front's sockets (its HTTP and cluster ports) are not the replica's: were they
    // inherited, they would outlive the front and hold its ports.
    if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0) {
      for (int fd = 3; fd < 65536; ++fd) close(fd);
    }
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  return pid;
}

void LocalActuator::reap() {
  std::erase_if(replicas_, [](const Replica& r) {
    int status = 0;
    const pid_t done = waitpid(r.pid, &status, WNOHANG);
    if (done == 0) return false;
    if (done == r.pid) {
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      if (r.leaving && code == 0)
        spdlog::info("autoscaler: replica {} drained and exited", r.name);
      else
        spdlog::warn("autoscaler: replica {} (pid {}) exited with {}", r.name, r.pid, code);
    }
    return true;  // exited, or not our child any more
  });
}

std::vector<TimePoint> LocalActuator::starting(const std::vector<std::string>& ready,
                                               const std::vector<std::string>& draining,
                                               TimePoint now) {
  reap();
  std::vector<TimePoint> on_the_way;
  for (Replica& r : replicas_) {
    // Draining: it exits once its requests finish (also after a drain whose answer was lost).
    if (std::find(draining.begin(), draining.end(), r.name) != draining.end()) r.leaving = true;
    if (r.leaving) continue;
    if (std::find(ready.begin(), ready.end(), r.name) != ready.end()) {
      r.unready_since.reset();
      r.was_ready = true;
      continue;
    }
    if (!r.unready_since) r.unready_since = now;  // it was ready and is not any more
    on_the_way.push_back(*r.unready_since);
  }
  return on_the_way;
}

Result<std::vector<std::string>> LocalActuator::scale(const Decision& decision,
                                                      const std::vector<std::string>& ready,
                                                      TimePoint now) {
  reap();
  if (decision.desired > decision.current) {
    for (int32_t i = decision.current; i < decision.desired; ++i) {
      const std::string name = setup_.name_prefix + std::to_string(next_number_++);
      auto pid = start(name);
      if (!pid) return pid.error();
      spdlog::info("autoscaler: started replica {} (pid {})", name, *pid);
      replicas_.push_back({.name = name, .pid = *pid, .asked_at = now, .unready_since = now});
    }
    return std::vector<std::string>{};
  }
  // The newest of its own ready replicas leave first.
  std::vector<Replica*> candidates;
  for (Replica& r : replicas_) {
    if (!r.leaving && std::find(ready.begin(), ready.end(), r.name) != ready.end())
      candidates.push_back(&r);
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const Replica* a, const Replica* b) { return a->asked_at > b->asked_at; });
  std::vector<std::string> leaving;
  for (Replica* r : candidates) {
    if (int32_t(leaving.size()) == decision.current - decision.desired) break;
    r->leaving = true;
    leaving.push_back(r->name);
  }
  if (leaving.empty())
    return make_error(
        "no replica this autoscaler started is ready to leave (it never removes "
        "nodes it did not start)");
  return leaving;
}

void LocalActuator::give_up(TimePoint unready_before) {
  for (Replica& r : replicas_) {
    if (r.leaving || !r.unready_since || *r.unready_since >= unready_before) continue;
    spdlog::warn("autoscaler: replica {} (pid {}) {}; stopping it", r.name, r.pid,
                 r.was_ready ? "stopped being ready" : "never became ready");
    // One that ran drains what it still has; a worker still loading its model reads SIGTERM
    // only once it runs, and serves nothing.
    kill(r.pid, r.was_ready ? SIGTERM : SIGKILL);
    r.leaving = true;
  }
}

void LocalActuator::drain_failed(const std::string& node) {
  for (Replica& r : replicas_)
    if (r.name == node) r.leaving = false;
}

std::vector<pid_t> LocalActuator::live_processes() const {
  std::vector<pid_t> pids;
  for (const Replica& r : replicas_) pids.push_back(r.pid);
  return pids;
}

}  // namespace troupe::autoscale
