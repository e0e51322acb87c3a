#pragma once
// A tensor-parallel group whose ranks 1 .. N-1 are processes of their own on this host (each
// with its own cores and its own copy of nothing but its shard and KV slice), joined to rank 0
// through shared memory (shared_memory_group.hpp). Rank 0 lives in the caller's process and is
// the group's leader pass; it starts the others through a launcher the program provides (the
// troupe binary runs itself as `troupe tensor-parallel-rank`), waits until every rank has
// joined, and watches them: a rank that exits aborts the group, and destroying the leader stops
// and reaps them. A rank dies with its leader (it watches its parent).
#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "engine/device/forward_pass.hpp"
#include "engine/model/model.hpp"
#include "engine/parallel/in_process_ranks.hpp"
#include "engine/result.hpp"

namespace troupe::parallel {

// What a rank process needs to join its group.
struct RankLaunch {
  std::string model_path;
  std::string group;  // the shared-memory name
  int rank = 1;
  int size = 2;
  int threads = 1;    // its pool's
  int first_cpu = 0;  // where its pool's workers are pinned (its own cores)
  KvShape kv;
  OutputSplit output = OutputSplit::vocabulary;
  pid_t leader = 0;  // the process it dies with
};

// Starts the process of one rank; its pid, or why it could not start.
using RankLauncher = std::function<Result<pid_t>(const RankLaunch&)>;

// Errors: the model does not split; a rank could not start or exited before joining (its own
// error went to its stderr).
Result<std::unique_ptr<ForwardPass>> make_process_group(const Model& model,
                                                        const GroupOptions& options, KvShape kv,
                                                        const RankLauncher& launch);

// A rank process's whole life: loads its shard, joins the group, follows rank 0 until it stops
// the group (Ok) or the group ends otherwise (the error).
Status run_rank_process(const RankLaunch& launch);

}  // namespace troupe::parallel
