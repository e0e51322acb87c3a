// troupe tensor-parallel-rank: one rank of a tensor-parallel group as a process of its own,
// started by the group's leader (`troupe serve|worker --tensor-parallel-ranks processes`), never
// by hand. Also the launcher that starts it: this binary again, with the rank's settings.
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/device_options.hpp"

extern char** environ;

namespace troupe::cli {
namespace {

const CommandSpec& rank_spec() {
  static const CommandSpec spec{
      "tensor-parallel-rank",
      "troupe tensor-parallel-rank --group NAME --rank R --size N ...",
      "One rank of a tensor-parallel group, as a process of its own. The group's leader starts\n"
      "it (serve or worker with --tensor-parallel-ranks processes); it is not run by hand.",
      {model_flag(),
       {"group", "NAME", "the group's shared-memory name"},
       {"rank", "R", "this rank"},
       {"size", "N", "ranks in the group"},
       {"threads", "N", "this rank's threads"},
       {"first-cpu", "I", "the first of this rank's CPUs"},
       {"kv-blocks", "N", "KV blocks"},
       {"block-size", "N", "tokens per KV block"},
       {"kv-prefault", "0|1", "fault the KV cache's pages in ahead of the steps"},
       {"logits", "gathered|rank0", "who computes the logits"},
       {"leader", "PID", "the leader's process, which this one dies with"}}};
  return spec;
}

}  // namespace

parallel::RankLauncher rank_process_launcher() {
  return [](const parallel::RankLaunch& l) -> Result<pid_t> {
    const std::vector<std::string> argv = {
        "troupe",        "tensor-parallel-rank",
        "--model",       l.model_path,
        "--group",       l.group,
        "--rank",        std::to_string(l.rank),
        "--size",        std::to_string(l.size),
        "--threads",     std::to_string(l.threads),
        "--first-cpu",   std::to_string(l.first_cpu),
        "--kv-blocks",   std::to_string(l.kv.blocks),
        "--block-size",  std::to_string(l.kv.block_size),
        "--kv-prefault", l.kv.prefault ? "1" : "0",
        "--logits",      l.output == OutputSplit::vocabulary ? "gathered" : "rank0",
        "--leader",      std::to_string(l.leader)};
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    // The rank gets stdin, stdout and stderr, nothing else: a listening socket it inherited
    // would keep the leader's port taken after the leader closed it.
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addclosefrom_np(&files, 3);
    pid_t pid = 0;
    const int failed = posix_spawn(&pid, "/proc/self/exe", &files, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&files);
    if (failed != 0) return make_error(std::string("posix_spawn: ") + std::strerror(failed));
    return pid;
  };
}

int tensor_parallel_rank_command(const Args& args) {
  Flags flags;
  if (auto done = parse_flags(rank_spec(), args, flags)) return *done;
  // The leader's signals are its own: a rank ends when the leader stops the group or dies.
  for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) ::signal(signal, SIG_IGN);
  parallel::RankLaunch l;
  l.model_path = flags.get("model").value_or("");
  l.group = flags.get("group").value_or("");
  const auto number = [&](const char* name, long long low, long long high) {
    auto value = ranged_int(flags, name, -1, low, high);
    return value ? static_cast<int>(*value) : -1;
  };
  l.rank = number("rank", 1, 63);
  l.size = number("size", 2, 64);
  l.threads = number("threads", 1, 1024);
  l.first_cpu = number("first-cpu", 0, 1 << 20);
  l.kv = KvShape{number("kv-blocks", 1, 1 << 30), number("block-size", 1, 1024)};
  const int prefault = number("kv-prefault", 0, 1);
  l.kv.prefault = prefault == 1;
  l.output = flags.get("logits").value_or("gathered") == "rank0" ? OutputSplit::leader
                                                                 : OutputSplit::vocabulary;
  l.leader = number("leader", 1, 1 << 30);
  if (l.group.empty() || l.rank < 0 || l.size < 0 || l.threads < 0 || l.first_cpu < 0 ||
      l.kv.blocks < 0 || l.kv.block_size < 0 || prefault < 0 || l.leader < 0) {
    return input_error("tensor-parallel-rank is started by its group's leader, with every flag");
  }
  const Status done = parallel::run_rank_process(l);
  if (done) return 0;
  std::fprintf(stderr, "troupe: tensor-parallel rank %d: %s\n", l.rank, done.message().c_str());
  return 1;
}

}  // namespace troupe::cli
