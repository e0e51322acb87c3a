#include "engine/parallel/process_ranks.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/model/transformer.hpp"
#include "engine/parallel/group_pass.hpp"
#include "engine/parallel/shared_memory_group.hpp"

namespace troupe::parallel {
namespace {

// Each rank's slots: room for a prefill step's all-reduce of a 4096-wide model's 256 tokens at
// once; longer ones go in pieces.
constexpr size_t kSlotBytes = size_t{4} << 20;
// How long a rank that was told to stop (or whose group was aborted) may take to exit.
constexpr auto kExitGrace = std::chrono::seconds(10);

std::string exit_text(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended";
}

// The rank processes, as rank 0 watches them.
class RankProcesses {
 public:
  void add(int rank, pid_t pid) { ranks_.push_back({rank, pid, false}); }

  // Why a rank is gone, if one is: reaps those that exited.
  std::optional<std::string> gone() {
    std::lock_guard lock(mutex_);
    for (Rank& r : ranks_) {
      if (r.reaped) continue;
      int status = 0;
      if (waitpid(r.pid, &status, WNOHANG) == r.pid) {
        r.reaped = true;
        gone_ = "tensor-parallel rank " + std::to_string(r.rank) + " (pid " +
                std::to_string(r.pid) + ") " + exit_text(status);
      }
    }
    return gone_;
  }

  // Waits for every rank to exit, killing those that take longer than the grace.
  void reap() {
    std::lock_guard lock(mutex_);
    const auto deadline = std::chrono::steady_clock::now() + kExitGrace;
    for (Rank& r : ranks_) {
      while (!r.reaped) {
        int status = 0;
        const pid_t done = waitpid(r.pid, &status, WNOHANG);
        if (done == r.pid || done < 0) {
          r.reaped = true;
        } else if (std::chrono::steady_clock::now() > deadline) {
          kill(r.pid, SIGKILL);
          waitpid(r.pid, &status, 0);
          r.reaped = true;
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      }
    }
  }

 private:
  struct Rank {
    int rank;
    pid_t pid;
    bool reaped;
  };
  std::mutex mutex_;
  std::vector<Rank> ranks_;
  std::optional<std::string> gone_;
};

class ProcessFollowers final : public FollowerRanks {
 public:
  explicit ProcessFollowers(std::shared_ptr<RankProcesses> ranks) : ranks_(std::move(ranks)) {}
  ~ProcessFollowers() override { ranks_->reap(); }

 private:
  std::shared_ptr<RankProcesses> ranks_;
};

std::unique_ptr<Transformer> rank_pass(ModelConfig config, ModelWeights weights, int threads,
                                       int first_cpu, KvShape kv,
                                       std::shared_ptr<Communicator> group) {
  return std::make_unique<Transformer>(std::move(config), std::move(weights),
                                       std::make_shared<ThreadPool>(threads, true, first_cpu), kv,
                                       std::move(group));
}

}  // namespace

Result<std::unique_ptr<ForwardPass>> make_process_group(const Model& model,
                                                        const GroupOptions& options, KvShape kv,
                                                        const RankLauncher& launch) {
  const int size = options.size;
  auto weights = shard_weights(model, {0, size, options.output});
  if (!weights) return weights.error();
  const int share = std::max(1, ThreadPool::size_for(options.threads) / size);
  auto processes = std::make_shared<RankProcesses>();
  auto created =
      create_shared_memory_group(size, kSlotBytes, [processes] { return processes->gone(); });
  if (!created) return created.error();
  std::shared_ptr<Communicator> group = std::move(*created);
  auto followers = std::make_unique<ProcessFollowers>(processes);
  for (int rank = 1; rank < size; ++rank) {
    RankLaunch l{model.file->path(),
                 shared_memory_name(*group),
                 rank,
                 size,
                 share,
                 rank * share,
                 kv,
                 options.output,
                 getpid()};
    auto pid = launch(l);
    if (!pid) {
      group->abort();
      return make_error("cannot start tensor-parallel rank " + std::to_string(rank) + ": " +
                        pid.message());
    }
    processes->add(rank, *pid);
  }
  auto leader = rank_pass(model.config, std::move(*weights), share, 0, kv, group);
  try {
    group->barrier();  // every rank has loaded its shard and joined
  } catch (const CollectiveAborted& e) {
    return make_error(std::string("a tensor-parallel rank failed to start: ") + e.what());
  }
  release_name(*group);
  return std::unique_ptr<ForwardPass>(
      std::make_unique<GroupLeaderPass>(std::move(leader), group, std::move(followers)));
}

Status run_rank_process(const RankLaunch& launch) {
  // Die with the leader, also if it died before this line.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != launch.leader) return make_error("the tensor-parallel group's leader is gone");
  const pid_t leader = launch.leader;
  auto joined =
      join_shared_memory_group(launch.group, launch.rank, [leader]() -> std::optional<std::string> {
        if (getppid() != leader) return "the tensor-parallel group's leader is gone";
        return std::nullopt;
      });
  if (!joined) return joined.error();
  std::shared_ptr<Communicator> group = std::move(*joined);
  auto model = load_model(launch.model_path, {launch.rank, launch.size, launch.output});
  if (!model) {
    group->abort();
    return model.error();
  }
  auto pass = rank_pass(std::move(model->config), std::move(model->weights), launch.threads,
                        launch.first_cpu, launch.kv, group);
  try {
    group->barrier();  // joined: rank 0 waits for every rank here
    follow_leader(*pass, *group);
  } catch (const CollectiveAborted& e) {
    return make_error(std::string("the tensor-parallel group ended: ") + e.what());
  } catch (const std::exception& e) {
    return make_error(std::string("tensor-parallel rank ") + std::to_string(launch.rank) +
                      " failed: " + e.what());
  }
  return Ok{};
}

}  // namespace troupe::parallel
